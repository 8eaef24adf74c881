// @koyo/dispatcher backfill: rows/s of `dispatcher.backfill()` with a no-op handler beside
// `COPY (SELECT * FROM t) TO STDOUT` read by psql into /dev/null, on the same server in one
// run; where the time goes (the chunk COPYs alone, chunk sizes); peak RSS; and rows/s
// with a concurrent writer at 1,000 rows/s. Markdown on stdout, progress on stderr.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from '@koyo/testing';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = Number(process.env.KOYO_BENCH_BACKFILL_ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.KOYO_BENCH_ROUNDS ?? 3);
/** Chunk sizes to run: `default` is no `chunkSize` (chunks sized by bytes). */
const CHUNK_SIZES = (process.env.KOYO_BENCH_BACKFILL_CHUNKS ?? 'default,1000,10000,50000').split(
  ',',
);
/** The keyset baselines (psql running fixed-size chunk reads). */
const KEYSET_SIZES = CHUNK_SIZES.filter((size) => size !== 'default').map(Number);
const label = (size: string): string =>
  size === 'default' ? 'default (~2 MiB)' : fmt(Number(size));
const WRITER_RATE = 1_000;
/** Old-space limit of the backfill process (MB); unset: Node's default. */
const HEAP_MB = process.env.KOYO_BENCH_BACKFILL_HEAP_MB;

const log = (message: string): void => void process.stderr.write(`backfill.bench: ${message}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** psql reading the whole table with COPY into /dev/null: the baseline. */
function copyWithPsql(psql: string, url: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(psql, [url, '-X', '-q', '-c', 'COPY (SELECT * FROM t) TO STDOUT'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`psql exited ${code}`)),
    );
  });
}

/**
 * The backfill's chunk reads alone, as psql runs them into /dev/null: the key-ordered keyset
 * `COPY`s (`WHERE id > last ORDER BY id LIMIT n`) of the whole table, one after the other on one
 * session. What the server needs for the reads, beside the sequential COPY.
 */
function keysetCopiesWithPsql(psql: string, url: string, chunkSize: number): Promise<number> {
  const file = join(tmpdir(), `koyo-backfill-keyset-${process.pid}-${chunkSize}.sql`);
  const statements: string[] = [];
  for (let after = 0; after < ROWS; after += chunkSize)
    statements.push(
      `COPY (SELECT id, a, b, c, d FROM t WHERE (id) > (${after}::bigint) ORDER BY id LIMIT ${chunkSize}) TO STDOUT;`,
    );
  writeFileSync(file, statements.join('\n'));
  const started = performance.now();
  return new Promise<number>((resolve, reject) => {
    const child = spawn(psql, [url, '-X', '-q', '-f', file], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`psql exited ${code}`)),
    );
  }).finally(() => rmSync(file, { force: true }));
}

/** A full backfill with a no-op handler, in a fresh child process (its peak RSS is the backfill's). */
function backfill(
  url: string,
  slot: string,
  chunkSize: string,
): Promise<{ ms: number; cpu: number; rows: number; rss: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@koyo/source',
        '--import',
        'tsx',
        join(here, 'backfill-child.ts'),
        url,
        slot,
        chunkSize,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`backfill child exited ${code}`));
      const result = JSON.parse(out.trim()) as {
        ms: number;
        cpu: number;
        rows: number;
        rss: number;
      };
      if (result.rows < ROWS)
        return reject(new Error(`backfill delivered ${result.rows} rows, expected ${ROWS}`));
      resolve(result);
    });
  });
}

/** Inserts WRITER_RATE rows/s (10 every 10 ms) until stopped. */
function startWriter(url: string): { stop: () => Promise<number> } {
  const client = new pg.Client(url);
  let running = true;
  let written = 0;
  const done = (async () => {
    await client.connect();
    const started = performance.now();
    while (running) {
      await client.query(
        "INSERT INTO t (id, a, b, c, d) SELECT nextval('t_writer'), 1, 'w', 1.5, now() FROM generate_series(1, 10)",
      );
      written += 10;
      const due = started + (written / WRITER_RATE) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await client.end();
    return written;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

const cluster = await startCluster({ postgres: 'system', replicas: 0 });
try {
  const url = cluster.primary.url;
  const psql = join(cluster.binaries.binDir, 'psql');
  const setup = new pg.Client(url);
  await setup.connect();
  log(`loading ${fmt(ROWS)} rows`);
  await setup.query(
    'CREATE TABLE t (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, c numeric, d timestamptz)',
  );
  await setup.query(
    `INSERT INTO t SELECT g, g % 1000, md5(g::text), g / 7.0, now() - g * interval '1 second' FROM generate_series(1, ${ROWS}) g`,
  );
  await setup.query(`CREATE SEQUENCE t_writer START ${ROWS * 10}`);
  await setup.query('VACUUM ANALYZE t');
  await setup.query('CREATE PUBLICATION bench_pub FOR TABLE t');

  const copy: number[] = [];
  const keyset = new Map<number, number[]>();
  const runs = new Map<string, { ms: number; cpu: number; rss: number }[]>();
  let slots = 0;
  for (let round = 0; round < ROUNDS; round++) {
    copy.push(await copyWithPsql(psql, url));
    log(`round ${round + 1}: COPY ${Math.round(copy.at(-1)!)} ms`);
    for (const size of KEYSET_SIZES) {
      const k = await keysetCopiesWithPsql(psql, url, size);
      keyset.set(size, [...(keyset.get(size) ?? []), k]);
      log(`round ${round + 1}: keyset ${size}: ${Math.round(k)} ms`);
    }
    for (const size of CHUNK_SIZES) {
      const r = await backfill(url, `bench_backfill_${slots++}`, size);
      runs.set(size, [...(runs.get(size) ?? []), r]);
      log(
        `round ${round + 1}: chunk ${size}: backfill ${Math.round(r.ms)} ms (CPU ${Math.round(r.cpu)} ms), RSS ${Math.round(r.rss / 2 ** 20)} MB`,
      );
    }
  }
  const copyMs = median(copy);
  const copyRate = (ROWS * 1000) / copyMs;

  // With a writer inserting 1,000 rows/s during the backfill (default chunk size).
  const writer = startWriter(url);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const busy = await backfill(url, `bench_backfill_${slots++}`, 'default');
  const written = await writer.stop();
  log(`with writer: ${Math.round(busy.ms)} ms, ${written} rows written`);

  for (let i = 0; i < slots; i++)
    await setup
      .query('SELECT pg_drop_replication_slot($1)', [`bench_backfill_${i}`])
      .catch(() => undefined);
  await setup.end();

  const lines = [
    '## Backfill (@koyo/dispatcher)',
    '',
    `\`dispatcher.backfill('t')\` of ${fmt(ROWS)} rows (bigint key, int, text, numeric, timestamptz) with a no-op \`snapshot\` handler, beside \`COPY (SELECT * FROM t) TO STDOUT\` read by psql into /dev/null, on the same server in one run; median of ${ROUNDS} rounds. Each backfill chunk is one keyset read (\`COPY (SELECT ... WHERE (id) > (last key) ORDER BY id LIMIT n) TO STDOUT\`, text format, rows kept as the server's bytes and decoded by @koyo/pgoutput's \`CopyTextRowDecoder\` as each is delivered) between a low and a high watermark written with \`pg_logical_emit_message\` (low watermark, read and high watermark: one round trip; rows taken straight from the socket's CopyData messages); its rows are delivered through the dispatcher's handler path when the stream reaches its high watermark and the chunk before it is recorded. The next chunk is read while one is delivered. \"default\" is no \`chunkSize\`: 1,000 rows first, then about 2 MiB of row data per chunk (about 24,000 of these rows). "psql keyset COPYs" runs the backfill's chunk COPYs alone with psql into /dev/null (what the server needs for the reads). Each backfill runs in a fresh child process; RSS is that process's peak during the backfill. PostgreSQL ${cluster.binaries.version} on loopback.`,
    '',
    '| reader | chunk size | median ms | runs (ms) | rows/s | vs COPY | peak RSS |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: |',
    `| psql COPY to /dev/null | - | ${fmt(copyMs)} | ${copy.map(fmt).join(', ')} | ${fmt(copyRate)} | 1.00x | - |`,
  ];
  for (const size of KEYSET_SIZES) {
    const k = median(keyset.get(size)!);
    lines.push(
      `| psql keyset COPYs to /dev/null | ${fmt(size)} | ${fmt(k)} | ${keyset.get(size)!.map(fmt).join(', ')} | ${fmt((ROWS * 1000) / k)} | ${((ROWS * 1000) / k / copyRate).toFixed(2)}x | - |`,
    );
  }
  for (const size of CHUNK_SIZES) {
    const list = runs.get(size)!;
    const ms = median(list.map((r) => r.ms));
    const rss = Math.max(...list.map((r) => r.rss));
    lines.push(
      `| dispatcher.backfill() | ${label(size)} | ${fmt(ms)} | ${list.map((r) => fmt(r.ms)).join(', ')} | ${fmt((ROWS * 1000) / ms)} | ${((ROWS * 1000) / ms / copyRate).toFixed(2)}x | ${Math.round(rss / 2 ** 20)} MB |`,
    );
  }
  const best = Math.max(
    ...CHUNK_SIZES.map((s) => (ROWS * 1000) / median(runs.get(s)!.map((r) => r.ms))),
  );
  const defaultRate = (ROWS * 1000) / median(runs.get('default')!.map((r) => r.ms));
  const peak = Math.max(...[...runs.values()].flat().map((r) => r.rss));
  const cpu = CHUNK_SIZES.map(
    (size) => `${fmt(median(runs.get(size)!.map((r) => r.cpu)))} ms at chunk size ${label(size)}`,
  );
  lines.push(
    '',
    `CPU time of the backfill process (all its threads) during the backfill, median: ${cpu.join(', ')}; wall time beyond it is waiting (for the server, or for a core on a busy machine).`,
    '',
    `With a concurrent writer inserting ${fmt(WRITER_RATE)} rows/s (${fmt(written)} rows during the run), default chunk size: ${fmt(busy.ms)} ms, ${fmt((busy.rows * 1000) / busy.ms)} rows/s (${((busy.rows * 1000) / busy.ms / copyRate).toFixed(2)}x COPY), peak RSS ${Math.round(busy.rss / 2 ** 20)} MB.`,
    '',
    `Goal: at least 0.5x COPY's rows/s with RSS under 200 MB: ${defaultRate / copyRate >= 0.5 && peak < 200 * 2 ** 20 ? 'met' : 'not met'} at the default chunk size (${(defaultRate / copyRate).toFixed(2)}x; best ${(best / copyRate).toFixed(2)}x; peak RSS ${Math.round(peak / 2 ** 20)} MB).`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await cluster.stop();
}
