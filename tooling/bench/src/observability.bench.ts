// Observability cost: the dispatcher's 200k-row catch-up and the router's per-query overhead with
// an OpenTelemetry SDK and the Prometheus exporter registered (serveMetrics of @koyo/status,
// scraped every second) against the same without any SDK (the API's no-op instruments).
// Prints a Markdown section on stdout; progress goes to stderr.
import { createDispatcher } from '@koyo/dispatcher';
import { parseLsn } from '@koyo/pgoutput';
import { createRoutedPool } from '@koyo/router/pg';
import { serveMetrics, type MetricsServer } from '@koyo/status';
import { startCluster, type Cluster } from '@koyo/testing';
import pg from 'pg';

const ROWS = 200_000;
const TRANSACTIONS = 200;
const ROUNDS = Number(process.env.KOYO_BENCH_ROUNDS ?? 5);
const ROUTER_MS = 2000;
const PUBLICATION = 'bench_obs_pub';
const log = (message: string): void =>
  void process.stderr.write(`observability.bench: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
type Variant = 'no SDK' | 'SDK + Prometheus';
const VARIANTS: readonly Variant[] = ['no SDK', 'SDK + Prometheus'];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** With the SDK: serveMetrics, and a scraper reading /metrics every second as Prometheus would. */
async function withMetrics<T>(
  variant: Variant,
  run: () => Promise<T>,
): Promise<{ result: T; scrapes: number }> {
  if (variant === 'no SDK') return { result: await run(), scrapes: 0 };
  const server: MetricsServer = await serveMetrics({ port: 0 });
  let scrapes = 0;
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      const body = await (await fetch(server.url)).text();
      if (body.includes('koyo_')) scrapes++;
      await sleep(1000);
    }
  })();
  try {
    const result = await run();
    scraping = false;
    await scraper;
    // One scrape at the end, so even a short run shows its instruments were recorded.
    if ((await (await fetch(server.url)).text()).includes('koyo_')) scrapes++;
    return { result, scrapes };
  } finally {
    scraping = false;
    await server.close();
  }
}

async function runDispatcher(url: string, slot: string, target: bigint): Promise<number> {
  const started = performance.now();
  const dispatcher = createDispatcher({
    connection: url,
    slot,
    publication: PUBLICATION,
    createSlot: false,
    createPublication: false,
    logger: false,
  });
  let rows = 0;
  dispatcher.onChange(() => {
    rows++;
  });
  await dispatcher.start();
  while (parseLsn(dispatcher.stats().acknowledgedLsn) < target) {
    if (dispatcher.stats().state === 'failed')
      throw new Error(`dispatcher failed: ${dispatcher.stats().error}`);
    await sleep(2);
  }
  await dispatcher.stop();
  if (rows !== ROWS) throw new Error(`the dispatcher handled ${rows} rows, expected ${ROWS}`);
  return performance.now() - started;
}

async function catchUp(cluster: Cluster): Promise<string[]> {
  const url = cluster.primary.url;
  await cluster.primary.query(
    `CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, note text)`,
  );
  await cluster.primary.query(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE orders`);
  await cluster.primary.query(
    "SELECT pg_create_logical_replication_slot('bench_obs_base', 'pgoutput')",
  );
  const slotName = (variant: Variant, round: number): string =>
    `bench_obs_${variant === 'no SDK' ? 'off' : 'on'}_${round}`;
  for (let round = 0; round < ROUNDS; round++)
    for (const variant of VARIANTS)
      await cluster.primary.query(
        `SELECT pg_copy_logical_replication_slot('bench_obs_base', '${slotName(variant, round)}')`,
      );
  log(`inserting ${ROWS} rows in ${TRANSACTIONS} transactions`);
  const client = new pg.Client(url);
  await client.connect();
  const per = ROWS / TRANSACTIONS;
  for (let t = 0; t < TRANSACTIONS; t++) {
    await client.query(
      `INSERT INTO orders SELECT g, 'customer ' || (g % 1000), (g % 10000) / 100.0, now(), CASE WHEN g % 3 = 0 THEN NULL ELSE 'note for order ' || g END FROM generate_series($1::int, $2::int) g`,
      [t * per + 1, (t + 1) * per],
    );
  }
  const { rows } = await client.query<{ lsn: string }>(
    'SELECT pg_current_wal_insert_lsn()::text AS lsn',
  );
  await client.end();
  // Every commit ends before the current insert position; a run is done once the dispatcher
  // acknowledged the last commit, i.e. reached the highest end LSN of the slot's changes.
  const [last] = await cluster.primary.query<{ lsn: string }>(
    `SELECT max(lsn)::text AS lsn FROM pg_logical_slot_peek_binary_changes('bench_obs_base', NULL, NULL, 'proto_version', '2', 'publication_names', '${PUBLICATION}')`,
  );
  const target = parseLsn(last!.lsn);
  log(`last commit ends at ${last!.lsn} (insert position ${rows[0]!.lsn})`);
  const times: Record<Variant, number[]> = { 'no SDK': [], 'SDK + Prometheus': [] };
  let scrapes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      const { result: ms, scrapes: n } = await withMetrics(variant, () =>
        runDispatcher(url, slotName(variant, round), target),
      );
      scrapes += n;
      times[variant].push(ms);
      log(`catch-up round ${round + 1}: ${variant} ${ms.toFixed(0)} ms`);
      globalThis.gc?.();
    }
  }
  const base = median(times['no SDK']);
  const ratio = median(times['SDK + Prometheus']) / base;
  const row = (variant: Variant, note: string): string => {
    const m = median(times[variant]);
    return `| ${variant} | ${note} | ${m.toFixed(0)} | ${times[variant].map((t) => t.toFixed(0)).join(', ')} | ${Math.round(ROWS / (m / 1000)).toLocaleString('en-US')} | ${(m / base).toFixed(2)}x |`;
  };
  return [
    '## Observability: dispatcher catch-up with metrics (@koyo/dispatcher, @koyo/status)',
    '',
    `The catch-up workload of the dispatcher section (${ROWS.toLocaleString('en-US')} rows in ${TRANSACTIONS} transactions, no-op \`onChange\`, concurrency 1), median of ${ROUNDS} rounds in alternating order, each on its own copy of the same slot, PostgreSQL ${cluster.binaries.version}. "no SDK": \`@opentelemetry/api\` installed, no MeterProvider (no-op instruments). "SDK + Prometheus": \`serveMetrics()\` registered the OpenTelemetry SDK with the Prometheus exporter before \`start()\`, and /metrics was scraped every second (${scrapes} scrapes in all, each with koyo's instruments).`,
    '',
    '| dispatcher | metrics | median ms | runs (ms) | rows/s | vs no SDK |',
    '| --- | --- | ---: | --- | ---: | ---: |',
    row('no SDK', 'no-op instruments'),
    row('SDK + Prometheus', 'every change counted and timed into the SDK histogram'),
    '',
    `Goal: at most 1.05x without the SDK: ${ratio <= 1.05 ? 'met' : 'not met'} (${ratio.toFixed(2)}x).`,
  ];
}

async function routerOverhead(cluster: Cluster): Promise<string[]> {
  await cluster.primary.query(
    "CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'note ' || g FROM generate_series(1, 1000) g",
  );
  await cluster.syncReplicas();
  const replica = cluster.replicas[0]!;
  const samples: Record<Variant, { qps: number; cpu: number }[]> = {
    'no SDK': [],
    'SDK + Prometheus': [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      const { result } = await withMetrics(variant, async () => {
        // Created inside: the router takes its instruments from the provider registered then.
        const pool = createRoutedPool({
          primary: cluster.primary.url,
          replicas: [replica.url],
          pool: { max: 1 },
        });
        try {
          await pool.query('SELECT 1');
          let done = 0;
          const cpu = process.cpuUsage();
          const start = performance.now();
          while (performance.now() - start < ROUTER_MS) {
            await pool.query('SELECT id, note FROM items WHERE id = $1', [(done % 1000) + 1]);
            done++;
          }
          const used = process.cpuUsage(cpu);
          return {
            qps: done / ((performance.now() - start) / 1000),
            cpu: (used.user + used.system) / done,
          };
        } finally {
          await pool.end();
        }
      });
      samples[variant].push(result);
      log(
        `router round ${round + 1}: ${variant} ${result.qps.toFixed(0)} q/s, ${result.cpu.toFixed(1)} µs CPU/query`,
      );
    }
  }
  const qps = (v: Variant): number => median(samples[v].map((s) => s.qps));
  const cpu = (v: Variant): number => median(samples[v].map((s) => s.cpu));
  const overhead = (cpu('SDK + Prometheus') - cpu('no SDK')) / cpu('no SDK');
  return [
    '## Observability: router overhead with metrics (@koyo/router)',
    '',
    `\`createRoutedPool\` (pg, one connection) reading one row by key from a streaming replica in a loop for ${ROUTER_MS / 1000} s, median of ${ROUNDS} rounds in alternating order, PostgreSQL ${cluster.binaries.version}. With the SDK every query adds to \`koyo.router.queries\` (attributes node, role, reason) and /metrics is scraped every second. CPU is this process's user+system time per query.`,
    '',
    '| router | q/s | client CPU/query | vs no SDK (CPU) |',
    '| --- | ---: | ---: | ---: |',
    `| no SDK | ${qps('no SDK').toFixed(0)} | ${cpu('no SDK').toFixed(1)} µs | 1.00x |`,
    `| SDK + Prometheus | ${qps('SDK + Prometheus').toFixed(0)} | ${cpu('SDK + Prometheus').toFixed(1)} µs | ${(cpu('SDK + Prometheus') / cpu('no SDK')).toFixed(2)}x |`,
    '',
    `Goal: metrics add under 5% per query: ${overhead < 0.05 ? 'met' : 'not met'} (${(overhead * 100).toFixed(1)}% CPU per query).`,
  ];
}

log('starting PostgreSQL (system) with one replica');
const cluster = await startCluster({ postgres: 'system', replicas: 1 });
try {
  const sections = [await catchUp(cluster), await routerOverhead(cluster)];
  process.stdout.write(`${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`);
} finally {
  await cluster.stop();
}
process.exit(0);
