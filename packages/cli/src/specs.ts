import type { CommandSpec, OptionSpec } from './args.js';

const help: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help.' };
const url: OptionSpec = {
  type: 'string',
  value: 'URL',
  description:
    'postgres:// connection string. Default: connection in koyo.config.ts, else DATABASE_URL.',
};
const config: OptionSpec = {
  type: 'string',
  short: 'c',
  value: 'FILE',
  description: 'Config file. Default: ./koyo.config.ts (or .mts/.js/.mjs).',
};
const slot: OptionSpec = {
  type: 'string',
  value: 'NAME',
  description: 'Replication slot. Default: slot in the config.',
};
const publication: OptionSpec = {
  type: 'string',
  value: 'NAME',
  description: 'Publication. Default: publication in the config.',
};
const json: OptionSpec = { type: 'boolean', description: 'Print JSON instead of text.' };

/** `koyo init`. */
export const initSpec: CommandSpec = {
  name: 'init',
  summary: 'Write koyo.config.ts and a commented koyo.handlers.ts',
  description:
    'Writes koyo.config.ts (connection, slot, publication, tables, dispatcher options; typed with defineConfig) and koyo.handlers.ts (catch-all and per-table handler examples, every option commented) into the current directory. Existing files are never overwritten unless --force is given.',
  positionals: [],
  options: {
    slot: { ...slot, description: 'Slot name to write. Default: koyo_<directory name>.' },
    publication: {
      ...publication,
      description: 'Publication name to write. Default: the slot name.',
    },
    table: {
      type: 'string',
      multiple: true,
      value: 'TABLE',
      description: "A table to stream ('users' or 'schema.table'); repeat or separate with commas.",
    },
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
    help,
  },
  examples: [
    'koyo init',
    'koyo init --slot orders_sync --table orders,order_items',
    'koyo init --relay nats --table orders',
    'koyo init --force',
  ],
};

/** `koyo doctor`. */
export const doctorSpec: CommandSpec = {
  name: 'doctor',
  summary: 'Check the database set-up and say how to fix each problem',
  description:
    "Runs every check of @koyo/slot's diagnose (connection, server version, wal_level, free slots and WAL senders, REPLICATION attribute, publication and replica identity, slot state and lag), and, when koyo.config.ts has relay.nats (or --nats-servers is given), what koyo relay nats needs of NATS (reachable, JetStream enabled, the stream's subjects, storage and duplicate window), and prints a checklist: ✓ or ✗, what was found, and the exact SQL that fixes it. Exits 1 when any check fails.",
  positionals: [],
  options: {
    url,
    config,
    slot,
    publication,
    origins: {
      type: 'boolean',
      description:
        'Also check replication origins: privileges for loop-safe writes from handlers (dispatcher.db), the GRANTs when missing, and origins left without their slot.',
    },
    'nats-servers': {
      type: 'string',
      multiple: true,
      value: 'URL',
      description:
        'Also check NATS for koyo relay nats (reachable, JetStream, the stream). Default: relay.nats.servers when the config has relay.nats.',
    },
    'nats-stream': {
      type: 'string',
      value: 'NAME',
      description: 'The relay stream to check. Default: relay.nats.stream, else KOYO.',
    },
    json,
    help,
  },
  examples: [
    'koyo doctor',
    'koyo doctor --origins',
    'koyo doctor --nats-servers nats://127.0.0.1:4222',
    'koyo doctor --url postgres://app@db/shop --slot koyo_shop --publication koyo_shop',
    'koyo doctor --json | jq .checks',
  ],
};

/** `koyo setup`. */
export const setupSpec: CommandSpec = {
  name: 'setup',
  summary: 'Print (or --apply) the SQL that prepares PostgreSQL',
  description:
    'Prints what the database needs: server settings (ALTER SYSTEM for wal_level, max_replication_slots, max_wal_senders, max_slot_wal_keep_size), the publication, the slot, and a least-privilege replication role. With a connection, settings that are already right are shown as such. --apply runs what can be run from SQL (ALTER SYSTEM and pg_reload_conf need a superuser; wal_level still needs a restart, which koyo never does for you).',
  positionals: [],
  options: {
    url,
    config,
    slot,
    publication,
    table: {
      type: 'string',
      multiple: true,
      value: 'TABLE',
      description: 'Tables of the publication. Default: tables in the config.',
    },
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
    help,
  },
  examples: [
    'koyo setup',
    'koyo setup --table users,orders --role koyo_repl',
    'koyo setup --apply',
  ],
};

/** `koyo run`. */
export const runSpec: CommandSpec = {
  name: 'run',
  summary: 'Stream changes to the handlers in koyo.handlers.ts',
  description:
    'Loads koyo.config.ts and its handlers file (TypeScript, no build step), starts the dispatcher and calls your handlers for every committed change. Shows catch-up progress (the slot lag falling to zero; a progress bar on a terminal, plain lines otherwise) and stats lines. SIGINT or SIGTERM stops gracefully: running handlers finish, what they finished is acknowledged, and koyo exits 0. A second signal exits at once (nothing unacknowledged is lost: it is delivered again on the next run).',
  positionals: [],
  options: {
    url,
    config,
    slot,
    publication,
    'stats-interval': {
      type: 'string',
      value: 'SECONDS',
      description:
        'Seconds between stats lines; 0 turns them off. Default: run.statsIntervalSeconds in the config, else 30.',
    },
    progress: {
      type: 'string',
      value: 'MODE',
      choices: ['auto', 'bar', 'lines', 'off'],
      description: 'Catch-up display. auto: a bar on a terminal, lines otherwise.',
    },
    failover: {
      type: 'boolean',
      description:
        'Create the slot as a failover slot (PostgreSQL 17+), synchronised to standbys so that after a promotion koyo run, given every host in the URL (postgres://h1,h2/db), resumes on the new primary. Same as dispatcher.failover in the config. Before 17: an UNSUPPORTED error.',
    },
    backfill: {
      type: 'boolean',
      description:
        "Backfill every dispatched table first (existing rows reach the handlers as 'snapshot' changes, consistently with the stream, which keeps flowing meanwhile); an interrupted backfill resumes on the next run.",
    },
    metrics: {
      type: 'string',
      value: '[HOST:]PORT',
      description:
        'Serve the OpenTelemetry metrics in Prometheus text format at http://HOST:PORT/metrics (host default 127.0.0.1).',
    },
    ui: {
      type: 'string',
      value: '[HOST:]PORT',
      description:
        'Serve the live status page at http://HOST:PORT/ (lag, changes/s per table, handler p50/p99, errors; host default 127.0.0.1).',
    },
    'allow-remote': {
      type: 'boolean',
      description:
        'Let --metrics and --ui listen on a non-loopback address (they have no authentication; a warning is printed).',
    },
    help,
  },
  examples: [
    'koyo run',
    'koyo run --backfill',
    'koyo run --ui 9465 --metrics 9464',
    "koyo run --failover --url 'postgres://app@db1,db2/shop'",
    'DATABASE_URL=postgres://app@db/shop koyo run --stats-interval 10',
    'koyo run --config deploy/koyo.config.ts',
  ],
};

/** `koyo slots`. */
export const slotsSpec: CommandSpec = {
  name: 'slots',
  summary: 'List replication slots with lag, holder and WAL status',
  description:
    'Lists every replication slot of the server: type, database, the PID holding it, how far it lags behind the current WAL position, how much WAL it keeps, and its wal_status (reserved, extended, unreserved, lost). Use "koyo slots drop NAME" to remove one.',
  positionals: [],
  options: { url, config, json, help },
  examples: ['koyo slots', 'koyo slots --json', 'koyo slots drop old_consumer'],
};

/** `koyo slots drop`. */
export const slotsDropSpec: CommandSpec = {
  name: 'slots drop',
  summary: 'Drop a replication slot',
  description:
    'Drops a replication slot, releasing the WAL it keeps, and its replication origin (koyo_NAME, used by loop-safe writes from handlers) when there is one. The changes it kept are gone for good: its consumer must resynchronise. A slot held by a running consumer is refused unless --force, which terminates the holder first.',
  positionals: [{ name: 'NAME', required: true, description: 'The slot to drop.' }],
  options: {
    url,
    config,
    force: {
      type: 'boolean',
      short: 'f',
      description: 'Terminate the process holding the slot, then drop it.',
    },
    help,
  },
  examples: ['koyo slots drop old_consumer', 'koyo slots drop stuck_slot --force'],
};

/** `koyo tail`. */
export const tailSpec: CommandSpec = {
  name: 'tail',
  summary: 'Print decoded changes live, one per line',
  description:
    'Prints committed changes as they happen, one per line (text, or JSON with --json). By default it reads through a TEMPORARY slot of its own, dropped when tail exits, so it never moves a production slot. --slot NAME --peek reads an existing slot without consuming anything (pg_logical_slot_peek_binary_changes): its consumer still gets every change. The publication comes from --publication or the config; with only --table, tail creates a publication for those tables and drops it on exit.',
  positionals: [],
  options: {
    url,
    config,
    table: {
      type: 'string',
      multiple: true,
      value: 'TABLE',
      description:
        "Only changes of this table ('users' or 'schema.table'); repeat or separate with commas.",
    },
    json,
    publication,
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
    help,
  },
  examples: [
    'koyo tail',
    'koyo tail --table users --json',
    'koyo tail --slot koyo_shop --peek --limit 20',
  ],
};

/** Every command, in the order of `koyo --help`. */
/** `koyo backfill`. */
export const backfillSpec: CommandSpec = {
  name: 'backfill',
  summary: "Deliver existing rows to the handlers as 'snapshot' changes, then exit",
  description:
    "Loads koyo.config.ts and its handlers like koyo run, starts the dispatcher and backfills the tables (default: every dispatched table): their current rows reach your handlers as 'snapshot' changes, in chunks by primary key, consistent with the changes streamed meanwhile (which are handled too). Shows a progress bar per table on a terminal (rows, %, rows/s, ETA), plain lines otherwise, and exits 0 when every table is done. Progress is kept in the table koyo.backfill_progress: after SIGINT, SIGTERM or a crash, run it again (or koyo run) and it resumes after the last acknowledged chunk.",
  positionals: [
    {
      name: 'TABLE...',
      required: false,
      variadic: true,
      description:
        "Tables to backfill ('users' or 'schema.table'). Default: every dispatched table.",
    },
  ],
  options: {
    url,
    config,
    slot,
    publication,
    'chunk-size': {
      type: 'string',
      value: 'N',
      description:
        'Rows per chunk (one short read transaction each). Default 10000, or the size an interrupted backfill started with.',
    },
    progress: {
      type: 'string',
      value: 'MODE',
      choices: ['auto', 'bar', 'lines', 'off'],
      description: 'Progress display. auto: a bar on a terminal, lines otherwise.',
    },
    help,
  },
  examples: [
    'koyo backfill',
    'koyo backfill users orders --chunk-size 5000',
    'koyo backfill --progress lines',
  ],
};

/** `koyo relay nats`. */
export const relayNatsSpec: CommandSpec = {
  name: 'relay nats',
  summary: 'Publish every change into NATS JetStream for a worker fleet',
  description:
    "Reads the slot of koyo.config.ts once and publishes every committed change into a NATS JetStream stream, exactly once (@koyo/nats): subject <prefix>.<schema>.<table>[.<partition>], the change as JSON. Worker processes (createNatsWorker from @koyo/nats, koyo init --relay nats writes an example) run the handlers, each key's changes in order. Settings come from relay.nats in the config; the flags override them. A transaction is acknowledged to PostgreSQL only after JetStream stored all of it; while NATS is unreachable, the slot waits. SIGINT or SIGTERM stops gracefully with a summary and exit 0. Needs @koyo/nats installed next to @koyo/cli.",
  positionals: [],
  options: {
    url,
    config,
    slot,
    publication,
    servers: {
      type: 'string',
      multiple: true,
      value: 'URL',
      description:
        'NATS server(s); repeat or separate with commas. Default: relay.nats.servers in the config, else nats://127.0.0.1:4222.',
    },
    stream: {
      type: 'string',
      value: 'NAME',
      description: 'JetStream stream, created when missing. Default: relay.nats.stream, else KOYO.',
    },
    partitions: {
      type: 'string',
      value: 'N',
      description:
        'Partitions per table (workers need the same number). Default: relay.nats.partitions, else 1.',
    },
    'stats-interval': {
      type: 'string',
      value: 'SECONDS',
      description:
        'Seconds between stats lines; 0 turns them off. Default: run.statsIntervalSeconds in the config, else 30.',
    },
    help,
  },
  examples: [
    'koyo relay nats',
    'koyo relay nats --servers nats://10.0.0.5:4222 --partitions 8',
    'koyo relay nats --stream ORDERS --stats-interval 10',
  ],
};

export const COMMANDS: readonly CommandSpec[] = [
  initSpec,
  doctorSpec,
  setupSpec,
  runSpec,
  backfillSpec,
  relayNatsSpec,
  slotsSpec,
  slotsDropSpec,
  tailSpec,
];
