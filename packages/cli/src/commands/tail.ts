import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo tail`, which prints decoded changes live, through a temporary slot or by peeking at one. It runs src/tail/tail-command.ts, imported only then (see `main`). */
export const tailSpec: CommandSpec = {
  name: 'tail',
  summary: 'Print decoded changes live, one per line',
  description:
    'Prints committed changes as they happen, one per line (text, or JSON with --json). By default it reads through a TEMPORARY slot of its own, dropped when tail exits, so it never moves a production slot. --slot NAME --peek reads an existing slot without consuming anything (pg_logical_slot_peek_binary_changes): its consumer still gets every change. The publication comes from --publication or the config; with only --table, tail creates a publication for those tables and drops it on exit.',
  positionals: [],
  options: {
    url: flags.url,
    config: flags.config,
    table: flags.tableFlag(
      "Only changes of this table ('users' or 'schema.table'); repeat or separate with commas.",
    ),
    json: flags.json,
    publication: flags.publication,
    slot: {
      type: 'string',
      value: 'NAME',
      description: 'Peek at this existing slot (needs --peek).',
    },
    peek: { type: 'boolean', description: 'With --slot: read without consuming.' },
    limit: { type: 'string', value: 'N', description: 'Exit after N changes.' },
    interval: {
      type: 'string',
      value: 'MS',
      description: 'Poll interval in milliseconds. Default 250.',
    },
    help: flags.help,
  },
  examples: [
    'koyo tail',
    'koyo tail --table users --json',
    'koyo tail --slot koyo_shop --peek --limit 20',
  ],
};
