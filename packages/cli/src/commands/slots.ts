import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo slots` (also `koyo slots list`), which lists every replication slot of the server. It runs src/slots/slots-command.ts, imported only then (see `main`). */
export const slotsSpec: CommandSpec = {
  name: 'slots',
  summary: 'List replication slots with lag, holder and WAL status',
  description:
    'Lists every replication slot of the server: type, database, the PID holding it, how far it lags behind the current WAL position, how much WAL it keeps, and its wal_status (reserved, extended, unreserved, lost). Use "koyo slots drop NAME" to remove one.',
  positionals: [],
  options: { url: flags.url, config: flags.config, json: flags.json, help: flags.help },
  examples: ['koyo slots', 'koyo slots --json', 'koyo slots drop old_consumer'],
};
