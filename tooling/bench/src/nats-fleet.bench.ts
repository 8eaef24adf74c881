// @koyo/nats fleet: changes/s through a 5 ms handler, end to end from a slot holding them all,
// for 4 worker processes on 16 partitions (relay -> JetStream -> workers) beside the
// single-process dispatcher with `concurrency: 1` and with `concurrency: 16`, each on its own
// copy of one slot, in one run. Markdown on stdout, progress on stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createDispatcher } from '@koyo/dispatcher';
import { createNatsRelay } from '@koyo/nats';
import { startCluster, startNats } from '@koyo/testing';
import pg from 'pg';

const CHANGES = Number(process.env.KOYO_BENCH_FLEET_CHANGES ?? 8_000);
const TRANSACTIONS = 200;
const HANDLER_MS = 5;
const WORKERS = 4;
const PARTITIONS = 16;
const PUBLICATION = 'fleet_pub';
const here = dirname(fileURLToPath(import.meta.url));
const log = (message: string): void => void process.stderr.write(`nats-fleet.bench: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A worker process; `handled()` is the last count it printed. */
function startWorker(natsUrl: string, stream: string, durable: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--conditions=@koyo/source',
      '--import',
      'tsx',
      join(here, 'fleet-worker-child.ts'),
      natsUrl,
      stream,
      durable,
      String(PARTITIONS),
      String(HANDLER_MS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let ready = false;
  let handled = 0;
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    const lines = text.split('\n');
    text = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') ready = true;
      else if (line.startsWith('handled ')) handled = Number(line.slice(8));
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, ready: () => ready, handled: () => handled, exited };
}

const cluster = await startCluster({ replicas: 0 });
const nats = await startNats();
try {
  const url = cluster.primary.url;
  const client = new pg.Client(url);
  await client.connect();
  await client.query('CREATE TABLE items (id int PRIMARY KEY, payload text NOT NULL)');
  await client.query(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE items`);
  await client.query("SELECT pg_create_logical_replication_slot('fleet_base', 'pgoutput')");
  for (const name of ['fleet_c1', 'fleet_c16', 'fleet_relay'])
    await client.query("SELECT pg_copy_logical_replication_slot('fleet_base', $1)", [name]);
  log(`inserting ${CHANGES} rows (distinct keys) in ${TRANSACTIONS} transactions`);
  const per = CHANGES / TRANSACTIONS;
  for (let t = 0; t < TRANSACTIONS; t++) {
    await client.query(
      "INSERT INTO items SELECT g, 'payload ' || g FROM generate_series($1::int, $2::int) g",
      [t * per + 1, (t + 1) * per],
    );
  }
  // Created after the inserts: a slot with nothing to read.
  await client.query("SELECT pg_create_logical_replication_slot('fleet_empty', 'pgoutput')");
  await client.end();
  const common = {
    connection: url,
    publication: PUBLICATION,
    createSlot: false,
    createPublication: false,
    logger: false,
  } as const;

  const rates: Record<string, number> = {};
  for (const concurrency of [1, 16]) {
    let handled = 0;
    const dispatcher = createDispatcher({ ...common, slot: `fleet_c${concurrency}`, concurrency });
    dispatcher.onChange(async () => {
      await sleep(HANDLER_MS);
      handled += 1;
    });
    const started = performance.now();
    await dispatcher.start();
    await until(() => handled >= CHANGES, `dispatcher concurrency ${concurrency}`);
    const ms = performance.now() - started;
    await dispatcher.stop();
    rates[`c${concurrency}`] = CHANGES / (ms / 1000);
    log(`dispatcher concurrency ${concurrency}: ${(ms / 1000).toFixed(2)} s`);
  }

  // The fleet: workers joined and idle first, then the relay reads the slot; timed from the
  // relay's start until the workers handled every change.
  const stream = 'FLEET';
  const relay = createNatsRelay({
    dispatcher: { ...common, slot: 'fleet_relay' },
    nats: { servers: nats.url },
    stream,
    partitions: PARTITIONS,
  });
  // The workers need the stream before they join: a relay on an empty slot creates it.
  const creator = createNatsRelay({
    dispatcher: { ...common, slot: 'fleet_empty' },
    nats: { servers: nats.url },
    stream,
    partitions: PARTITIONS,
  });
  await creator.start();
  await creator.stop();
  const workers = Array.from({ length: WORKERS }, () => startWorker(nats.url, stream, 'fleet'));
  try {
    await until(() => workers.every((w) => w.ready()), 'the workers to join', 120_000);
    const started = performance.now();
    await relay.start();
    log(`relay started in ${Math.round(performance.now() - started)} ms`);
    await until(
      () => workers.reduce((sum, w) => sum + w.handled(), 0) >= CHANGES,
      'the fleet to handle every change',
    );
    const ms = performance.now() - started;
    rates.fleet = CHANGES / (ms / 1000);
    const spread = workers.map((w) => w.handled()).join(' / ');
    log(`fleet: ${(ms / 1000).toFixed(2)} s (per worker ${spread})`);
  } finally {
    await relay.stop();
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }

  const fleet = rates.fleet!;
  const c1 = rates.c1!;
  const c16 = rates.c16!;
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`## @koyo/nats: worker fleet against the single-process dispatcher

${CHANGES.toLocaleString('en-US')} inserts (distinct keys) in ${TRANSACTIONS} transactions, a ${HANDLER_MS} ms handler (\`setTimeout\`), PostgreSQL ${cluster.binaries.version}, nats-server with file storage on the same machine. Each row reads its own copy of one slot that already holds every change, timed from start until the last handler resolved; the fleet is ${WORKERS} worker processes (joined before the timer starts) on ${PARTITIONS} partitions behind the relay, so its time includes the relay publishing. All processes share the machine's cores.

| setup | changes/s | fleet vs this | goal |
| --- | --- | --- | --- |
| dispatcher, \`concurrency: 1\` | ${fmt(c1)} | ${(fleet / c1).toFixed(2)}x | >= 8x |
| dispatcher, \`concurrency: 16\` | ${fmt(c16)} | ${(fleet / c16).toFixed(2)}x | >= 1x |
| relay + ${WORKERS} workers, ${PARTITIONS} partitions | ${fmt(fleet)} | 1.00x | |

Goals: at least 8x the dispatcher with \`concurrency: 1\`: ${fleet / c1 >= 8 ? 'met' : 'not met'} (${(fleet / c1).toFixed(2)}x); at least the dispatcher with \`concurrency: 16\`: ${fleet >= c16 ? 'met' : 'not met'} (${(fleet / c16).toFixed(2)}x). A ${HANDLER_MS} ms handler bounds ${PARTITIONS} lanes at ${fmt((PARTITIONS * 1000) / HANDLER_MS)} changes/s; the fleet adds a round trip per change (ack, then the partition's next message).
`);
} finally {
  await nats.close();
  await cluster.stop();
}
