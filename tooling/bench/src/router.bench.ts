// @koyo/router: routing overhead against the bare driver on the same replica, and classifier throughput.
// Prints a Markdown section on stdout; progress goes to stderr.
import { cpus, loadavg } from 'node:os';
import { classifySql } from '@koyo/router';
import { createRoutedPool } from '@koyo/router/pg';
import { createRoutedSql } from '@koyo/router/postgres';
import { startCluster } from '@koyo/testing';
import pg from 'pg';
import postgres from 'postgres';

const ROUNDS = 5;
const ROUND_MS = 1000;
const log = (message: string): void => void process.stderr.write(`router.bench: ${message}\n`);

type Query = (id: number) => Promise<unknown>;

interface Sample {
  /** Queries per second (wall clock). */
  qps: number;
  /** CPU microseconds this process used per query. */
  cpu: number;
}

/** Runs `concurrency` sequential loops of `query` for `ms`. */
async function measure(query: Query, concurrency: number, ms: number): Promise<Sample> {
  let done = 0;
  const deadline = performance.now() + ms;
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let i = worker;
      while (performance.now() < deadline) {
        await query((i++ % 1000) + 1);
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return {
    qps: done / ((performance.now() - start) / 1000),
    cpu: (used.user + used.system) / done,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const loads = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
const loadStart = loads();
const cluster = await startCluster({ replicas: 1 });
const rows: string[] = [];
try {
  log(`cluster up (PostgreSQL ${cluster.binaries.version}, ${cluster.binaries.flavour})`);
  await cluster.primary.query(
    "CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'note ' || g FROM generate_series(1, 1000) g",
  );
  await cluster.syncReplicas();
  const replica = cluster.replicas[0]!;
  const text = 'SELECT id, note FROM items WHERE id = $1';

  for (const connections of [1, 16]) {
    // node-postgres: bare pg.Pool on the replica vs createRoutedPool routing to that replica
    const bare = new pg.Pool({ connectionString: replica.url, max: connections });
    const routed = createRoutedPool({
      primary: cluster.primary.url,
      replicas: [replica.url],
      pool: { max: connections },
    });
    // postgres.js: bare sql on the replica vs createRoutedSql
    const bareSql = postgres(replica.url, { max: connections });
    const routedSql = createRoutedSql({
      primary: cluster.primary.url,
      replicas: [replica.url],
      postgres: { max: connections },
    });
    const variants: [string, Query, Query, () => number][] = [
      [
        'pg',
        (id) => bare.query(text, [id]),
        (id) => routed.query(text, [id]),
        () => routed.router.stats().replicas[0]!.queries,
      ],
      [
        'postgres.js',
        (id) => bareSql`SELECT id, note FROM items WHERE id = ${id}`,
        (id) => routedSql`SELECT id, note FROM items WHERE id = ${id}`,
        () => routedSql.router.stats().replicas[0]!.queries,
      ],
    ];
    for (const [driver, bareQuery, routedQuery, replicaQueries] of variants) {
      // warm up connections and JIT
      await measure(bareQuery, connections, 300);
      await measure(routedQuery, connections, 300);
      const bareRuns: Sample[] = [];
      const routedRuns: Sample[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // alternate the order so drift on the shared machine hits both sides alike
        if (round % 2 === 0) {
          bareRuns.push(await measure(bareQuery, connections, ROUND_MS));
          routedRuns.push(await measure(routedQuery, connections, ROUND_MS));
        } else {
          routedRuns.push(await measure(routedQuery, connections, ROUND_MS));
          bareRuns.push(await measure(bareQuery, connections, ROUND_MS));
        }
        log(
          `${driver} x${connections} round ${round + 1}: bare ${bareRuns.at(-1)!.qps.toFixed(0)} q/s ${bareRuns.at(-1)!.cpu.toFixed(1)} µs CPU, ` +
            `routed ${routedRuns.at(-1)!.qps.toFixed(0)} q/s ${routedRuns.at(-1)!.cpu.toFixed(1)} µs CPU`,
        );
      }
      const b = median(bareRuns.map((x) => x.qps));
      const r = median(routedRuns.map((x) => x.qps));
      const bc = median(bareRuns.map((x) => x.cpu));
      const rc = median(routedRuns.map((x) => x.cpu));
      rows.push(
        `| ${driver}, read-only loop | ${connections} | ${b.toFixed(0)} q/s | ${r.toFixed(0)} q/s | ${((b / r - 1) * 100).toFixed(1)}% | ` +
          `${bc.toFixed(1)} µs | ${rc.toFixed(1)} µs | ${(rc - bc).toFixed(1)} µs (${(((rc - bc) / bc) * 100).toFixed(1)}%) |`,
      );
      if (replicaQueries() === 0)
        throw new Error(`${driver}: the routed side never reached the replica`);
    }
    await bare.end();
    await routed.end();
    await bareSql.end();
    await routedSql.end();
  }

  // classifier throughput on a mixed corpus
  const corpus = [
    'SELECT id, note FROM items WHERE id = $1',
    'select "users"."id", "users"."name", "users"."email" from "users" where "users"."id" = $1 limit $2',
    'INSERT INTO items (id, note) VALUES ($1, $2) RETURNING id',
    "UPDATE users SET name = $1, updated_at = now() WHERE id = $2 AND status <> 'deleted'",
    'DELETE FROM sessions WHERE expires_at < now()',
    'SELECT * FROM jobs WHERE state = $1 ORDER BY run_at LIMIT 10 FOR UPDATE SKIP LOCKED',
    "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') SELECT customer_id, count(*) FROM recent GROUP BY 1",
    'WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) INSERT INTO done SELECT * FROM moved',
    "SELECT nextval('orders_id_seq')",
    'SELECT pg_advisory_xact_lock($1)',
    '/* app:web route:/orders */ SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = ANY($1)',
    "SELECT $$ a dollar ' quoted \" string $$, E'\\n', 'it''s' AS s",
    'BEGIN',
    'COMMIT',
    'SHOW search_path',
    'EXPLAIN SELECT * FROM items WHERE note LIKE $1',
    'SELECT count(*) FROM items i LEFT JOIN LATERAL (SELECT 1 FROM items j WHERE j.id = i.id) x ON true',
    "SET LOCAL statement_timeout = '5s'",
    'VALUES ($1::int, $2::text)',
    'SELECT a, b, c, d, e, f, g, h FROM wide_table WHERE a = $1 AND b = $2 AND c IN ($3, $4, $5) ORDER BY d DESC, e ASC LIMIT 50 OFFSET 100',
  ];
  let sink = 0;
  /** Statements per CPU-second of this process: waiting for a core on a busy machine does not count. */
  const throughput = (label: string, classify: (sql: string) => { role: string }): number => {
    for (let i = 0; i < 200_000; i++)
      sink += classify(corpus[i % corpus.length]!).role === 'read' ? 1 : 0; // warm-up
    const runs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let n = 0;
      const deadline = performance.now() + ROUND_MS;
      const cpu = process.cpuUsage();
      while (performance.now() < deadline) {
        for (let k = 0; k < 1000; k++)
          sink += classify(corpus[(n + k) % corpus.length]!).role === 'read' ? 1 : 0;
        n += 1000;
      }
      const used = process.cpuUsage(cpu);
      runs.push(n / ((used.user + used.system) / 1e6));
      log(`${label} round ${round + 1}: ${runs.at(-1)!.toFixed(0)} statements per CPU-second`);
    }
    return median(runs);
  };
  // The router's own cost per statement, without a network: router.execute around a no-op run
  // (context lookup, cached classification, replica choice, counters, one promise hop) against
  // awaiting the same no-op directly.
  const core = createRoutedPool({ primary: cluster.primary.url, replicas: [replica.url] });
  const noop = (): Promise<number> => Promise.resolve(1);
  const cpuPerCall = async (call: () => Promise<number>): Promise<number> => {
    for (let i = 0; i < 100_000; i++) sink += await call();
    const runs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const cpu = process.cpuUsage();
      for (let i = 0; i < 200_000; i++) sink += await call();
      const used = process.cpuUsage(cpu);
      runs.push(((used.user + used.system) * 1000) / 200_000);
    }
    return median(runs);
  };
  const directNs = await cpuPerCall(noop);
  const routedNs = await cpuPerCall(() => core.router.execute(text, noop));
  await core.end();
  log(`execute: ${routedNs.toFixed(0)} ns vs direct ${directNs.toFixed(0)} ns`);

  const perSecond = throughput('classifySql', classifySql);
  const router = createRoutedPool({ primary: cluster.primary.url, replicas: [replica.url] });
  const cachedPerSecond = throughput('router.classify (cached)', (sql) =>
    router.router.classify(sql),
  );
  await router.end();
  // Machine calibration: the CPU cost of touching each character once, to read the figures against.
  const joined = corpus.join(' ');
  const calibrationStart = process.cpuUsage();
  let h = 0;
  for (let i = 0; i < 20_000; i++)
    for (let j = 0; j < joined.length; j++) h = (Math.imul(h, 31) + joined.charCodeAt(j)) | 0;
  const calibrationUsed = process.cpuUsage(calibrationStart);
  const nsPerChar =
    ((calibrationUsed.user + calibrationUsed.system) * 1000) / (20_000 * joined.length);
  sink += h & 1;
  if (sink < 0) log('unreachable');
  const avgLength = corpus.reduce((n, s) => n + s.length, 0) / corpus.length;

  console.log(`## @koyo/router

Routing overhead: a read-only loop (\`SELECT id, note FROM items WHERE id = $1\` on a 1,000-row table) run for
${ROUND_MS / 1000} s per round by N concurrent callers, through the bare driver connected to the replica and through
the routed pool/sql (primary + that one replica, default options), alternating, ${ROUNDS} rounds each, in one process
against the same ${cluster.binaries.flavour} PostgreSQL ${cluster.binaries.version} servers; medians. Goal: under 5%.
"Client CPU/query" is this process's CPU time divided by the queries it ran: it isolates the router's own cost
from waiting on a shared, busy machine, which dominates the throughput columns. Classifier: \`classifySql\` over a
mixed corpus of ${corpus.length} statements (average ${avgLength.toFixed(0)} characters), ${ROUNDS} rounds of ${ROUND_MS / 1000} s, per CPU-second; goal > 1M statements/s.

| workload | connections | bare driver | routed | throughput overhead | client CPU/query, bare | client CPU/query, routed | routing CPU/query |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Routing decision alone (no network): \`router.execute\` around a no-op costs ${routedNs.toFixed(0)} ns of CPU per statement,
against ${directNs.toFixed(0)} ns for awaiting the no-op directly: ${((routedNs - directNs) / 1000).toFixed(2)} µs added per statement.

| classifier | statements per CPU-second | CPU ns/statement | goal (> 1M/s) |
| --- | --- | --- | --- |
| \`classifySql\` (lexes every time), mixed corpus | ${(perSecond / 1e6).toFixed(2)}M | ${(1e9 / perSecond).toFixed(0)} | ${perSecond > 1e6 ? 'met' : 'missed'} |
| \`router.classify\` (what routing uses: per-text cache), same corpus | ${(cachedPerSecond / 1e6).toFixed(2)}M | ${(1e9 / cachedPerSecond).toFixed(0)} | ${cachedPerSecond > 1e6 ? 'met' : 'missed'} |

Calibration: a bare loop hashing each character cost ${nsPerChar.toFixed(2)} ns/char of CPU during this run. Load average:
${loadStart} at the start, ${loads()} at the end, on ${cpus().length} cores shared with other work.`);
} finally {
  await cluster.stop();
}
