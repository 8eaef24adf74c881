/** The files `koyo init` writes. */
import { relayConfigSection } from './templates-nats.js';

/** What the templates are filled with. */
export interface TemplateValues {
  slot: string;
  publication: string;
  /** Tables as written by the user (`'users'`, `'billing.invoices'`); may be empty. */
  tables: string[];
  /** \`koyo init --relay nats\`: add the relay section. */
  relay?: 'nats' | undefined;
}

function literal(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** The content of `koyo.config.ts`. */
export function configTemplate(values: TemplateValues): string {
  const tables =
    values.tables.length > 0
      ? `  tables: [${values.tables.map(literal).join(', ')}],`
      : `  // tables: ['users', 'billing.invoices'],`;
  return `// koyo.config.ts: read by every koyo command (run, doctor, setup, slots, tail).
// Written by \`koyo init\`. defineConfig types every option, so your editor completes and checks
// them; this file is TypeScript and loads without a build step.
import { defineConfig } from '@koyo/cli';

export default defineConfig({
  // Where to connect: a postgres:// URL, or a pg ClientConfig such as
  // { host, port, user, password, database, ssl }. \`--url\` on the command line wins; when this
  // is undefined, DATABASE_URL is used. Connect to the PRIMARY: replicas have no logical slots
  // before PostgreSQL 16. The role needs the REPLICATION attribute (\`koyo setup\` prints the SQL
  // for a least-privilege role).
  connection: process.env.DATABASE_URL,

  // The logical replication slot. PostgreSQL keeps every change for it until koyo has handled and
  // acknowledged it, so a stop, crash or deploy loses nothing (changes are delivered at least
  // once). One slot per consumer; 1-63 characters of a-z, 0-9 and _.
  // A slot nobody reads keeps WAL forever and can fill the disk: \`koyo slots\` shows the lag,
  // \`koyo slots drop NAME\` removes a slot you no longer use.
  slot: ${literal(values.slot)},

  // The publication: which tables (and operations) the slot streams. \`koyo run\` creates it when
  // it does not exist, FOR TABLE the tables below (FOR ALL TABLES only with tables: '*', which
  // needs a superuser). The name is used exactly as written, case included.
  publication: ${literal(values.publication)},

  // Tables to stream: 'users' (found in any schema) or 'schema.table', or '*' for every table.
  // Leave it out to stream every table of an existing publication. A table without a primary key
  // (or REPLICA IDENTITY FULL) is refused: once published, its updates and deletes would fail.
${tables}

  // The handlers file, relative to this file.
  handlers: './koyo.handlers.ts',

  // Options of @koyo/dispatcher's createDispatcher. Defaults shown.
  dispatcher: {
    // Handler calls running at once. 1 = strictly one after the other, in commit order.
    // With n > 1, changes of different rows run in parallel; changes of one row keep their order.
    // concurrency: 1,

    // A failing handler is retried: tries in total, then a wait that doubles from backoffMs.
    // retry: { attempts: 3, backoffMs: 100, maxBackoffMs: 5000 },

    // After the last try: 'stop' stops koyo run without acknowledging the change (it is delivered
    // again on the next start), 'skip' goes on. Default: 'skip' into deadLetter when given, else 'stop'.
    // onError: (error, item) => 'stop',

    // Park what failed (a table, a queue, a file) and go on. Nothing is ever skipped silently.
    // deadLetter: async (item, error) => { await saveFailedChange(item, error); },

    // Create the slot / publication when missing (set false when a DBA manages them).
    // createSlot: true,
    // createPublication: true,

    // Changes per onTransaction chunk.
    // batchSize: 1000,

    // Values: parsers by type OID, overriding pg's (e.g. int8 as bigint).
    // typeParsers: { 20: BigInt },
  },

  // Settings of \`koyo run\` (its flags win).
  run: {
    // Seconds between two stats lines (changes, rate, lag); 0 turns them off.
    // statsIntervalSeconds: 30,

    // Catch-up display: 'auto' (a bar on a terminal, lines otherwise), 'bar', 'lines' or 'off'.
    // progress: 'auto',
  },
${values.relay === 'nats' ? relayConfigSection() : ''}});
`;
}

/** The content of `koyo.handlers.ts`. */
export function handlersTemplate(values: TemplateValues): string {
  const table = values.tables[0] ?? 'users';
  return `// koyo.handlers.ts: the code \`koyo run\` calls for every committed row change.
// Written by \`koyo init\`; delete what you do not need.
//
// How delivery works:
// - Every change committed in the tables of the publication reaches these handlers, in commit
//   order (changes of one transaction in the order they were made).
// - At least once: a transaction is acknowledged to PostgreSQL only after every handler of it
//   has finished (returned, or its promise resolved). After a crash or a stop in the middle,
//   unacknowledged changes are delivered again. Make handlers idempotent: (change.commitLsn,
//   change.position) identifies a change, and is the same on redelivery.
// - A handler that throws is retried (see retry in koyo.config.ts), then koyo run stops
//   (or the change goes to deadLetter). A change is never skipped silently.
// - Keep handlers fast: while one runs, the changes after it wait. For slow work (mail, HTTP
//   calls) enqueue a job (BullMQ, pg-boss, ...) and return.
// - Write to the database through koyo.db (see below): those writes are not delivered back to
//   these handlers, so a handler may update the very table it listens to. Through any other
//   connection, each write is a new change, and a handler that writes its own table loops.
// - ALWAYS await (or return) your promises: an un-awaited promise is a change acknowledged
//   before it was handled.
import { defineHandlers, type Change } from '@koyo/cli';

export default defineHandlers((koyo, { logger }) => {
  // Catch-all: every change of every table (the gem's koyo_handle_all_replication).
  // change.kind:       'insert' | 'update' | 'delete' | 'truncate'
  // change.schema / change.table: where it happened, e.g. 'public' / 'users'
  // change.new:        the row after an insert or update (values parsed as pg parses a SELECT)
  // change.old:        the row before, when PostgreSQL sent it (key columns on delete;
  //                    every column with REPLICA IDENTITY FULL)
  // change.key / change.id: the primary key columns, and their value when there is one column
  // change.unchanged:  columns whose large (TOASTed) value did not change and was not sent
  // change.commitLsn, change.position, change.xid, change.commitTime: the transaction
  koyo.onChange((change: Change) => {
    logger.debug({ kind: change.kind, table: \`\${change.schema}.\${change.table}\`, id: change.id }, 'change');
  });

  // One table, one function per kind. 'users' matches the table in any schema; write
  // 'schema.table' to be precise. Every kind is optional.
  koyo.onTable(${literal(table)}, {
    insert: async (change) => {
      // e.g. await jobs.add('welcome-mail', { userId: change.id });
      logger.info({ id: change.id }, 'inserted');
    },
    update: async (change) => {
      // change.old is null unless the key changed or the table has REPLICA IDENTITY FULL.
      // change.unchanged lists large (TOASTed) columns that did not change and were not sent.
      logger.info({ id: change.id }, 'updated');
    },
    delete: async (change) => {
      // Only the key is known: change.key (and change.old with REPLICA IDENTITY FULL).
      logger.info({ id: change.id }, 'deleted');
    },
    // truncate: async (change) => { /* one call per truncated table, no row */ },
  });

  // Loop-safe writes: koyo.db is a pg pool (one connection) tagged with the dispatcher's
  // replication origin. Needs a superuser or the GRANTs \`koyo doctor --origins\` prints.
  // koyo.onTable('orders', {
  //   insert: (change) => koyo.db.query('UPDATE orders SET total = price * qty WHERE id = $1', [change.id]),
  // });

  // Whole transactions, in chunks of batchSize changes (for bulk writes to a search index, ...).
  // koyo.onTransaction(async (batch) => {
  //   await search.bulk(batch.changes);
  // });

  // Messages written with SELECT pg_logical_emit_message(true, 'outbox', '{"event":"..."}');
  // koyo.onMessage('outbox', async (message) => {
  //   await publish(JSON.parse(message.text));
  // });

  // Optionally return a cleanup function: it runs after koyo run stopped (close queues, flush).
  return async () => {
    logger.info({}, 'handlers closed');
  };
});
`;
}
