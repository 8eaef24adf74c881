// @koyo/router: routing overhead against the bare driver on the same replica, and classifier throughput.
// Prints a Markdown section on stdout; progress goes to stderr.
import { classifySql } from '@koyo/router';
import { createRoutedPool } from '@koyo/router/pg';
import { createRoutedSql } from '@koyo/router/postgres';
import { startCluster } from '@koyo/testing';
import pg from 'pg';
import { cpus, loadavg } from 'node:os';
import postgres from 'postgres';

const ROUNDS = 5;
const ROUND_MS = 1000;
const log = (message: string): void => void process.stderr.write(`router.bench: ${message}\n`);

type Query = (id: number) => Promise<unknown>;

/** Runs `concurrency` sequential loops of `query` for `ms`; returns queries per second. */
async function measure(query: Query, concurrency: number, ms: number): Promise<number> {
  let done = 0;
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let i = worker;
      while (performance.now() < deadline) {
        await query((i++ % 1000) + 1);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const loadStart = loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ');
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
    const variants: [string, Query, Query][] = [
      ['pg', (id) => bare.query(text, [id]), (id) => routed.query(text, [id])],
      [
        'postgres.js',
        (id) => bareSql`SELECT id, note FROM items WHERE id = ${id}`,
        (id) => routedSql`SELECT id, note FROM items WHERE id = ${id}`,
      ],
    ];
    for (const [driver, bareQuery, routedQuery] of variants) {
      // warm up connections and JIT
      await measure(bareQuery, connections, 300);
      await measure(routedQuery, connections, 300);
      const bareRuns: number[] = [];
      const routedRuns: number[] = [];
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
          `${driver} x${connections} round ${round + 1}: bare ${bareRuns.at(-1)!.toFixed(0)} q/s, routed ${routedRuns.at(-1)!.toFixed(0)} q/s`,
        );
      }
      const b = median(bareRuns);
      const r = median(routedRuns);
      const overhead = (b / r - 1) * 100;
      rows.push(
        `| ${driver}, read-only loop | ${connections} | ${b.toFixed(0)} q/s | ${r.toFixed(0)} q/s | ${(r / b).toFixed(3)} | ${overhead.toFixed(1)}% |`,
      );
      const replicaQueries =
        driver === 'pg'
          ? routed.router.stats().replicas[0]!.queries
          : routedSql.router.stats().replicas[0]!.queries;
      if (replicaQueries === 0)
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
  const throughput = (label: string, classify: (sql: string) => { role: string }): number => {
    for (let i = 0; i < 200_000; i++)
      sink += classify(corpus[i % corpus.length]!).role === 'read' ? 1 : 0; // warm-up
    const runs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let n = 0;
      const start = performance.now();
      const deadline = start + ROUND_MS;
      while (performance.now() < deadline) {
        for (let k = 0; k < 1000; k++)
          sink += classify(corpus[(n + k) % corpus.length]!).role === 'read' ? 1 : 0;
        n += 1000;
      }
      runs.push(n / ((performance.now() - start) / 1000));
      log(`${label} round ${round + 1}: ${runs.at(-1)!.toFixed(0)} statements/s`);
    }
    return median(runs);
  };
  const perSecond = throughput('classifySql', classifySql);
  const router = createRoutedPool({
    primary: cluster.primary.url,
    replicas: [cluster.replicas[0]!.url],
  });
  const cachedPerSecond = throughput('router.classify (cached)', (sql) =>
    router.router.classify(sql),
  );
  await router.end();
  // Machine calibration: the cost of touching each character once, to read the figures above against.
  const calibration = (): number => {
    const text = corpus.join(' ');
    const start = process.cpuUsage();
    let h = 0;
    for (let i = 0; i < 20_000; i++)
      for (let j = 0; j < text.length; j++) h = (Math.imul(h, 31) + text.charCodeAt(j)) | 0;
    const used = process.cpuUsage(start);
    sink += h & 1;
    return ((used.user + used.system) * 1000) / (20_000 * text.length);
  };
  const nsPerChar = calibration();
  if (sink < 0) log('unreachable');
  const avgLength = corpus.reduce((n, s) => n + s.length, 0) / corpus.length;

  console.log(`## @koyo/router

Routing overhead: a read-only loop (\`SELECT id, note FROM items WHERE id = $1\`, 1,000-row table) run
for ${ROUND_MS / 1000} s per round by N concurrent callers, once through the bare driver connected to the replica
and once through the routed pool/sql (primary + that one replica, default options), alternating,
${ROUNDS} rounds each in the same process against the same ${cluster.binaries.flavour} PostgreSQL ${cluster.binaries.version}
servers; medians. Goal: overhead under 5%. Classifier: \`classifySql\` over a mixed corpus of
${corpus.length} statements (average ${avgLength.toFixed(0)} characters), ${ROUNDS} rounds of ${ROUND_MS / 1000} s; goal > 1M statements/s.

| workload | connections | bare driver | routed | routed / bare | overhead |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

| classifier | statements/s | ns/statement | goal (> 1M/s) |
| --- | --- | --- | --- |
| \`classifySql\` (lexes every time), mixed corpus | ${(perSecond / 1e6).toFixed(2)}M | ${(1e9 / perSecond).toFixed(0)} | ${perSecond > 1e6 ? 'met' : 'missed'} |
| \`router.classify\` (what routing uses: per-text cache), same corpus | ${(cachedPerSecond / 1e6).toFixed(2)}M | ${(1e9 / cachedPerSecond).toFixed(0)} | ${cachedPerSecond > 1e6 ? 'met' : 'missed'} |

Calibration: a bare loop hashing each character costs ${nsPerChar.toFixed(2)} ns/char of CPU on this machine during this run.
Load average during the run: ${loadStart} at the start, ${loadavg()
    .map((x) => x.toFixed(1))
    .join(
      ' / ',
    )} at the end (${cpus().length} cores; other work on the machine slows both sides of every comparison alike but makes absolute numbers low and noisy).`);
} finally {
  await cluster.stop();
}
