// @koyo/nats: catch-up of 200,000 rows in 200 transactions, the relay into a local JetStream
// stream (file storage, 8 partitions) beside the dispatcher with a no-op handler, each on its own
// copy of one slot, rounds alternating. Markdown on stdout, progress on stderr.
import { performance } from 'node:perf_hooks';
import { createDispatcher } from '@koyo/dispatcher';
import { createNatsRelay } from '@koyo/nats';
import { parseLsn } from '@koyo/pgoutput';
import { startCluster, startNats } from '@koyo/testing';
import pg from 'pg';

const ROWS = Number(process.env.KOYO_BENCH_NATS_ROWS ?? 200_000);
const TRANSACTIONS = 200;
const ROUNDS = Number(process.env.KOYO_BENCH_ROUNDS ?? 2);
const PUBLICATION = 'bench_pub';
const log = (message: string): void => void process.stderr.write(`nats-relay.bench: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(acknowledged: () => string, target: bigint): Promise<void> {
  while (parseLsn(acknowledged()) < target) await sleep(2);
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const cluster = await startCluster({ replicas: 0 });
const nats = await startNats();
try {
  const url = cluster.primary.url;
  const client = new pg.Client(url);
  await client.connect();
  await client.query(
    'CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(12,2) NOT NULL, note text)',
  );
  await client.query(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE orders`);
  await client.query("SELECT pg_create_logical_replication_slot('bench_base', 'pgoutput')");
  for (let round = 0; round < ROUNDS; round++) {
    for (const tool of ['dispatcher', 'relay'])
      await client.query("SELECT pg_copy_logical_replication_slot('bench_base', $1)", [
        `bench_${tool}_${round}`,
      ]);
  }
  log(`inserting ${ROWS} rows in ${TRANSACTIONS} transactions`);
  const per = ROWS / TRANSACTIONS;
  for (let t = 0; t < TRANSACTIONS; t++) {
    await client.query(
      "INSERT INTO orders SELECT g, 'customer ' || (g % 1000), (g % 10000) / 100.0, 'note for order ' || g FROM generate_series($1::int, $2::int) g",
      [t * per + 1, (t + 1) * per],
    );
  }
  const [last] = (
    await client.query<{ lsn: string }>(
      `SELECT max(lsn)::text AS lsn FROM pg_logical_slot_peek_binary_changes('bench_base', NULL, NULL, 'proto_version', '1', 'publication_names', '${PUBLICATION}')`,
    )
  ).rows;
  await client.end();
  const target = parseLsn(last!.lsn);
  const times = { dispatcher: [] as number[], relay: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const order =
      round % 2 === 0 ? (['dispatcher', 'relay'] as const) : (['relay', 'dispatcher'] as const);
    for (const tool of order) {
      const slot = `bench_${tool}_${round}`;
      const started = performance.now();
      const common = {
        connection: url,
        slot,
        publication: PUBLICATION,
        createSlot: false,
        createPublication: false,
        logger: false,
      } as const;
      if (tool === 'dispatcher') {
        const dispatcher = createDispatcher(common);
        dispatcher.onChange(() => undefined);
        await dispatcher.start();
        await until(() => dispatcher.stats().acknowledgedLsn, target);
        await dispatcher.stop();
      } else {
        const relay = createNatsRelay({
          dispatcher: common,
          nats: { servers: nats.url },
          stream: `BENCH_${round}`,
          subjectPrefix: `bench${round}`,
          partitions: 8,
        });
        await relay.start();
        await until(() => relay.stats().dispatcher.acknowledgedLsn, target);
        await relay.stop();
        if (relay.stats().published !== ROWS)
          throw new Error(`relay published ${relay.stats().published}, expected ${ROWS}`);
      }
      const ms = performance.now() - started;
      times[tool].push(ms);
      log(`round ${round + 1} ${tool}: ${(ms / 1000).toFixed(2)} s`);
    }
  }
  const dispatcherMs = median(times.dispatcher);
  const relayMs = median(times.relay);
  console.log(`## @koyo/nats: relay catch-up into JetStream

${ROWS.toLocaleString('en-US')} rows in ${TRANSACTIONS} transactions, PostgreSQL ${cluster.binaries.version}, nats-server with file storage on the same machine, 8 partitions; median of ${ROUNDS} rounds, each tool on its own copy of one slot.

| tool | time | rows/s | vs no-op dispatcher | goal |
| --- | --- | --- | --- | --- |
| dispatcher, no-op handler | ${(dispatcherMs / 1000).toFixed(2)} s | ${Math.round(ROWS / (dispatcherMs / 1000)).toLocaleString('en-US')} | 1.00x | |
| relay into JetStream | ${(relayMs / 1000).toFixed(2)} s | ${Math.round(ROWS / (relayMs / 1000)).toLocaleString('en-US')} messages/s | ${(relayMs / dispatcherMs).toFixed(2)}x | <= 1.5x |

Goal: relay within 1.5x of the no-op dispatcher: ${relayMs / dispatcherMs <= 1.5 ? 'met' : 'not met'} (${(relayMs / dispatcherMs).toFixed(2)}x). The relay, nats-server and PostgreSQL's walsender share the cores, so the ratio depends on how loaded the machine is.
`);
} finally {
  await nats.close();
  await cluster.stop();
}
