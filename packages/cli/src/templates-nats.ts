/** What `koyo init --relay nats` adds: the config's relay section and a worker example. */

/** Partitions `koyo init --relay nats` writes: enough for a few workers to share the work. */
export const INIT_PARTITIONS = 8;

/** The `relay` section of `koyo.config.ts`, indented to sit inside `defineConfig({ ... })`. */
export function relayConfigSection(): string {
  return `
  // Settings of \`koyo relay nats\` (its flags win): it reads the slot above once and publishes
  // every change into a NATS JetStream stream, exactly once; koyo.worker.ts processes run the
  // handlers. Needs @koyo/nats (npm install @koyo/nats) and nats-server -js.
  relay: {
    nats: {
      // NATS servers; a list for a cluster. Default: nats://127.0.0.1:4222.
      servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',

      // The stream, created when missing (subjects <subjectPrefix>.>, file storage).
      stream: 'KOYO',

      // Partitions per table: a change goes to <subjectPrefix>.<schema>.<table>.<p>, p a stable
      // hash of its key. One worker at a time handles a partition, so each key's changes stay in
      // order while partitions run in parallel. Workers must use the same number; choose it once.
      partitions: ${INIT_PARTITIONS},

      // subjectPrefix: 'koyo',
      // The stream's duplicate window: a retried publish within it is stored once.
      // duplicateWindowMs: 120000,
      // Longest wait between publish attempts while NATS is unreachable (the slot waits meanwhile).
      // maxBackoffMs: 5000,
    },
  },
`;
}

function literal(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** The content of `koyo.worker.ts`: one worker of a fleet, for `koyo relay nats`. */
export function workerTemplate(values: { slot: string; tables: string[] }): string {
  const table = values.tables[0] ?? 'users';
  return `// koyo.worker.ts: one worker of a fleet that runs your handlers on the changes
// \`koyo relay nats\` publishes into NATS JetStream. Written by \`koyo init --relay nats\`.
//
//   npx koyo relay nats            the relay: one process reads the slot (a second one waits)
//   npx tsx koyo.worker.ts         a worker: start as many as you like, on any machines
//
// Needs: npm install @koyo/nats (and tsx to run TypeScript directly, or compile this file).
//
// How delivery works:
// - At least once: a change is acknowledged after its handler resolved. A handler that throws is
//   retried with backoff, then the change goes to <prefix>.dead.<schema>.<table> (deadLetter).
//   A worker that dies mid-change: after ackWaitMs another worker gets the change again. Make
//   handlers idempotent: (change.commitLsn, change.position) identifies a change.
// - In order per key: each partition is handled by one worker at a time, in commit order; the
//   changes of one row are always in the same partition. Partitions run in parallel.
// - ALWAYS await (or return) your promises: an un-awaited promise is a change acknowledged before
//   it was handled.
import { createNatsWorker, type Change } from '@koyo/nats';

// Must match relay.nats in koyo.config.ts.
const worker = createNatsWorker({
  nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
  stream: 'KOYO',
  partitions: ${INIT_PARTITIONS},
  // The fleet's name: every process with the same durable shares the work.
  durable: ${literal(`${values.slot.slice(0, 57)}_worker`)},
  // Only some tables ('schema.table'); default every table of the stream.
  // tables: ['public.${table}'],

  // Every change (change.kind, change.schema, change.table, change.key, change.new, change.old).
  handler: (change: Change) => {
    console.log(JSON.stringify({ handled: change.kind, table: \`\${change.schema}.\${change.table}\`, id: change.id, commitLsn: change.commitLsn, position: change.position }));
  },
  // Per table ('table' or 'schema.table'): a function, or one per kind. Every kind is optional.
  handlers: {
    ${literal(table)}: {
      insert: async (change) => {
        // e.g. await mailer.send('welcome', change.new);
        void change;
      },
      // update: async (change) => { ... },
      // delete: async (change) => { ... },
    },
  },
  // retry: { attempts: 3, backoffMs: 100, maxBackoffMs: 5000 },
  // deadLetter: true,
  // ackWaitMs: 30000,
  // Changes handled at once in this process, each from another partition. Default: all partitions.
  // concurrency: ${INIT_PARTITIONS},
});

async function main(): Promise<void> {
  // Signal handlers first: a SIGTERM while start() still joins the consumers stops cleanly too.
  const stop = (): void => {
    // Running handlers finish and are acknowledged; then the process exits.
    worker.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await worker.start();
  console.log(JSON.stringify({ worker: 'started', pid: process.pid }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
`;
}
