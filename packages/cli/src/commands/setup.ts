import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo setup`, which prints the SQL PostgreSQL needs for koyo; `--apply` runs what SQL can do. It runs src/setup/setup-command.ts, imported only then (see `main`). */
export const setupSpec: CommandSpec = {
  name: 'setup',
  summary: 'Print (or --apply) the SQL that prepares PostgreSQL',
  description:
    'Prints what the database needs: server settings (ALTER SYSTEM for wal_level, max_replication_slots, max_wal_senders, max_slot_wal_keep_size), the publication, the slot, and a least-privilege replication role. With a connection, settings that are already right are shown as such. --apply runs what can be run from SQL (ALTER SYSTEM and pg_reload_conf need a superuser; wal_level still needs a restart, which koyo never does for you).',
  positionals: [],
  options: {
    ...flags.slotFlags,
    table: flags.tableFlag('Tables of the publication. Default: tables in the config.'),
    'all-tables': {
      type: 'boolean',
      description:
        "Create the publication FOR ALL TABLES (as tables: '*' in the config). Needs a superuser; refused while a table has no primary key or replica identity.",
    },
    role: {
      type: 'string',
      value: 'ROLE',
      description:
        'Name of the replication role to create (with --apply it is created when missing). Default in the printed SQL: koyo.',
    },
    apply: { type: 'boolean', description: 'Run the statements instead of only printing them.' },
    help: flags.help,
  },
  examples: [
    'koyo setup',
    'koyo setup --table users,orders --role koyo_repl',
    'koyo setup --apply',
  ],
};
