import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo slots drop NAME [--force]`, which drops a slot and its replication origin. It runs src/slots/slots-drop-command.ts, imported only then (see `main`). */
export const slotsDropSpec: CommandSpec = {
  name: 'slots drop',
  summary: 'Drop a replication slot',
  description:
    'Drops a replication slot, releasing the WAL it keeps, and its replication origin (koyo_NAME, used by loop-safe writes from handlers) when there is one. The changes it kept are gone for good: its consumer must resynchronise. A slot held by a running consumer is refused unless --force, which terminates the holder first.',
  positionals: [{ name: 'NAME', required: true, description: 'The slot to drop.' }],
  options: {
    url: flags.url,
    config: flags.config,
    force: {
      type: 'boolean',
      short: 'f',
      description: 'Terminate the process holding the slot, then drop it.',
    },
    help: flags.help,
  },
  examples: ['koyo slots drop old_consumer', 'koyo slots drop stuck_slot --force'],
};
