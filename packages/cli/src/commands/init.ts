import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo init`, which writes koyo.config.ts and koyo.handlers.ts (and koyo.worker.ts with --relay nats). It runs src/init/init-command.ts, imported only then (see `main`). */
export const initSpec: CommandSpec = {
  name: 'init',
  summary: 'Write koyo.config.ts and a commented koyo.handlers.ts',
  description:
    'Writes koyo.config.ts (connection, slot, publication, tables, dispatcher options; typed with defineConfig) and koyo.handlers.ts (catch-all and per-table handler examples, every option commented) into the current directory. Existing files are never overwritten unless --force is given.',
  positionals: [],
  options: {
    slot: { ...flags.slot, description: 'Slot name to write. Default: koyo_<directory name>.' },
    publication: {
      ...flags.publication,
      description: 'Publication name to write. Default: the slot name.',
    },
    table: flags.tableFlag(
      "A table to stream ('users' or 'schema.table'); repeat or separate with commas.",
    ),
    dir: {
      type: 'string',
      value: 'DIR',
      description: 'Write into DIR instead of the current directory.',
    },
    relay: {
      type: 'string',
      value: 'BROKER',
      choices: ['nats'],
      description:
        'Also write the relay section of the config (for koyo relay nats) and koyo.worker.ts, a worker example (@koyo/nats).',
    },
    force: { type: 'boolean', short: 'f', description: 'Overwrite existing files.' },
    help: flags.help,
  },
  examples: [
    'koyo init',
    'koyo init --slot orders_sync --table orders,order_items',
    'koyo init --relay nats --table orders',
    'koyo init --force',
  ],
};
