// Decoder throughput: one stream of >= 200k insert messages captured from PostgreSQL, decoded by
// @koyo/pgoutput (parse: true and parse: false) and by pg-logical-replication's pgoutput parser,
// in one process, each touching every value of every row. Markdown on stdout, progress on stderr.
import { performance } from 'node:perf_hooks';
import { PgoutputDecoder } from '@koyo/pgoutput';
import { startCluster } from '@koyo/testing';
import pg from 'pg';
import { PgoutputPlugin } from 'pg-logical-replication';

const ROWS = Number(process.env.KOYO_BENCH_ROWS ?? 200_000);
const ROUNDS = Number(process.env.KOYO_BENCH_ROUNDS ?? 5);
const log = (message: string): void => {
  process.stderr.write(`pgoutput-decode: ${message}\n`);
};

log(`starting PostgreSQL`);
const cluster = await startCluster({ replicas: 0 });
let payloads: Buffer[];
let bytes = 0;
try {
  const client = new pg.Client(cluster.primary.url);
  client.on('error', () => undefined); // the server going away at stop() is expected
  await client.connect();
  await client.query(`
    CREATE TABLE orders (
      id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12, 2) NOT NULL, quantity int NOT NULL,
      paid boolean NOT NULL, details jsonb NOT NULL, created_at timestamptz NOT NULL
    );
    CREATE PUBLICATION bench FOR TABLE orders;
  `);
  await client.query(`SELECT pg_create_logical_replication_slot('bench', 'pgoutput')`);
  log(`inserting ${ROWS} rows`);
  const batch = 50_000;
  for (let from = 1; from <= ROWS; from += batch) {
    const to = Math.min(ROWS, from + batch - 1);
    await client.query(`
      INSERT INTO orders
      SELECT g, 'customer ' || (g % 977) || ' ' || md5(g::text), round((g % 100000) / 7.0, 2), g % 50, g % 3 = 0,
             jsonb_build_object('sku', 'SKU-' || (g % 1000), 'tags', jsonb_build_array('a', 'b', g % 7), 'gift', g % 2 = 0, 'weight', (g % 90) / 10.0),
             timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second 123456 microseconds'
      FROM generate_series(${from}, ${to}) g`);
  }
  log(`capturing the stream`);
  const { rows } = await client.query<{ data: Buffer }>(
    `SELECT data FROM pg_logical_slot_get_binary_changes('bench', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench')`,
  );
  payloads = rows.map((row) => row.data);
  for (const payload of payloads) bytes += payload.length;
  await client.end();
} finally {
  await cluster.stop();
}
const inserts = payloads.filter((payload) => payload[0] === 0x49).length;
log(`captured ${payloads.length} messages (${inserts} inserts, ${(bytes / 1e6).toFixed(1)} MB)`);
if (inserts < ROWS) throw new Error(`expected ${ROWS} inserts, captured ${inserts}`);

/**
 * Makes a function that touches every value of a row, so no decoder can skip work by being lazy.
 * Each contender gets its own compiled copy: a shared one would see every library's row shapes
 * and value types and slow all of them down alike, hiding the decoders' own differences.
 */
function makeTouch(): (row: Record<string, unknown>) => number {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(
    'row',
    `let sum = 0;
    for (const key in row) {
      const value = row[key];
      if (typeof value === 'string') sum += value.length;
      else if (typeof value === 'number') sum += value;
      else if (typeof value === 'boolean') sum += value ? 1 : 0;
      else if (value instanceof Date) sum += value.getTime() % 1000;
      else if (value !== null && typeof value === 'object') sum += Object.keys(value).length;
    }
    return sum;`,
  ) as (row: Record<string, unknown>) => number;
}

interface Contender {
  name: string;
  /** Decodes the whole stream with a fresh decoder and returns a checksum of every value. */
  run(): number;
}

const touches = { koyo: [makeTouch(), makeTouch()], pgLogicalReplication: makeTouch() };

function koyo(parse: boolean): Contender {
  return {
    name: `@koyo/pgoutput, parse: ${parse}`,
    run() {
      const touch = touches.koyo[parse ? 0 : 1]!;
      const decoder = new PgoutputDecoder({ protocolVersion: 1, parse });
      let sum = 0;
      for (const payload of payloads) {
        const message = decoder.decode(payload);
        if (message.tag === 'insert') sum += touch(message.new);
      }
      return sum;
    },
  };
}

const pgLogicalReplication: Contender = {
  name: 'pg-logical-replication (PgoutputPlugin.parse)',
  run() {
    const touch = touches.pgLogicalReplication;
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ['bench'] });
    let sum = 0;
    for (const payload of payloads) {
      const message = plugin.parse(payload);
      if (message.tag === 'insert') sum += touch(message.new as Record<string, unknown>);
    }
    return sum;
  },
};

const contenders = [koyo(true), koyo(false), pgLogicalReplication];
const timings = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
const checksums = new Map<string, number>();
// Interleave the contenders round by round, so drift in machine load hits all of them alike.
for (let round = 0; round <= ROUNDS; round++) {
  for (const contender of contenders) {
    // A full collection, then one untimed pass so the heap settles to this contender's own
    // steady state (neither the previous contender's garbage nor a freshly shrunk heap).
    globalThis.gc?.();
    contender.run();
    const started = performance.now();
    const sum = contender.run();
    const elapsed = performance.now() - started;
    checksums.set(contender.name, sum);
    if (round > 0) timings.get(contender.name)!.push(elapsed); // round 0 warms up
  }
  log(`round ${round}/${ROUNDS}`);
}
// parse: true and pg-logical-replication produce the same JS values (both follow pg's type parsers).
if (checksums.get(contenders[0]!.name) !== checksums.get(pgLogicalReplication.name)) {
  throw new Error(`checksums differ: ${JSON.stringify([...checksums])}`);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const rate = (name: string): number => payloads.length / (median(timings.get(name)!) / 1000);
const baseline = rate(pgLogicalReplication.name);
const format = (n: number): string => Math.round(n).toLocaleString('en-US');

const lines = [
  '## pgoutput decoder',
  '',
  `One pgoutput stream captured from PostgreSQL (protocol 1, text values): ${format(payloads.length)} messages, ` +
    `${format(inserts)} inserts into a 7-column table (bigint, text, numeric, int, boolean, jsonb, timestamptz), ` +
    `${(bytes / 1e6).toFixed(1)} MB. Each decoder decodes the whole stream in the same process and every value of ` +
    `every row is read. Each measurement follows a full GC and one untimed pass; the median of ${ROUNDS} interleaved rounds after a warm-up round is shown.`,
  '',
  '| decoder | messages/s | MB/s | vs pg-logical-replication |',
  '| --- | ---: | ---: | ---: |',
  ...contenders.map((c) => {
    const r = rate(c.name);
    return `| ${c.name} | ${format(r)} | ${((r * bytes) / payloads.length / 1e6).toFixed(1)} | ${(r / baseline).toFixed(2)}x |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
