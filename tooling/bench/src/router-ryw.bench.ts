// @koyo/router read-your-writes: a loop of "insert a row, then read it back by primary key" through
// the routed pg pool with `readYourWrites: { mode: 'lsn' }`, against the same loop with every read
// sent to the primary (`readFromPrimary`), at 1 and 8 connections, alternating rounds, one process,
// primary + one streaming replica of the machine's PostgreSQL. Each iteration is one session
// (`withToken`), as one HTTP request would be. Reports stale reads and the share served by the replica.
// Markdown on stdout, progress on stderr.
import { readFromPrimary } from '@koyo/router';
import { createRoutedPool } from '@koyo/router/pg';
import { startCluster } from '@koyo/testing';

const ITERATIONS = Number(process.env.KOYO_BENCH_ITERATIONS ?? 2000);
const ROUNDS = 5;
const log = (message: string): void => void process.stderr.write(`router-ryw.bench: ${message}\n`);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const cluster = await startCluster({ replicas: 1 });
const rows: string[] = [];
try {
  log(`cluster up (PostgreSQL ${cluster.binaries.version})`);
  await cluster.primary.query(
    'CREATE TABLE ryw_items (id bigserial PRIMARY KEY, note text NOT NULL)',
  );
  for (const connections of [1, 8]) {
    const poolWith = (ownWrites: 'primary' | 'wait') =>
      createRoutedPool({
        primary: { connectionString: cluster.primary.url, max: connections + 1 },
        replicas: [{ connectionString: cluster.replicas[0]!.url, max: connections + 1 }],
        readYourWrites: { mode: 'lsn', ...(ownWrites === 'wait' ? { ownWrites } : {}) },
      });
    const pools = { primary: poolWith('primary'), wait: poolWith('wait') };
    type Pool = (typeof pools)['primary'];
    const loop = async (
      pool: Pool,
      primaryReads: boolean,
    ): Promise<{ ms: number; stale: number }> => {
      let stale = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: connections }, async () => {
          for (let i = 0; i < ITERATIONS / connections; i++) {
            await pool.router.withToken(undefined, async () => {
              const written = await pool.query<{ id: string }>(
                'INSERT INTO ryw_items (note) VALUES ($1) RETURNING id',
                ['n'],
              );
              const read = () =>
                pool.query('SELECT note FROM ryw_items WHERE id = $1', [written.rows[0]!.id]);
              const result = primaryReads ? await readFromPrimary(read) : await read();
              if (result.rows.length !== 1) stale++;
            });
          }
        }),
      );
      return { ms: performance.now() - start, stale };
    };
    /** One read-your-writes loop; counts stale reads and the reads the replica served. */
    const measured = {
      primary: { ms: [] as number[], stale: 0, replica: 0 },
      wait: { ms: [] as number[], stale: 0, replica: 0 },
    };
    const rywLoop = async (variant: 'primary' | 'wait'): Promise<number> => {
      // Served by the replica: the reads that did not end on the primary (a read whose pipelined
      // check found the replica behind runs again, so the replica's own counter counts it twice).
      const pool = pools[variant];
      const before = pool.router.stats().primary.reads;
      const ryw = await loop(pool, false);
      const m = measured[variant];
      m.replica += ITERATIONS - (pool.router.stats().primary.reads - before);
      m.ms.push(ryw.ms);
      m.stale += ryw.stale;
      return ryw.ms;
    };
    await loop(pools.primary, false); // warm-up: pools, caches
    await loop(pools.wait, false);
    const primaryMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      primaryMs.push((await loop(pools.primary, true)).ms);
      const own = await rywLoop('primary');
      const wait = await rywLoop('wait');
      log(
        `${connections} connection(s), round ${round + 1}: primary ${primaryMs.at(-1)!.toFixed(0)} ms, ryw ${own.toFixed(0)} ms, ryw (wait) ${wait.toFixed(0)} ms`,
      );
    }
    await pools.primary.end();
    await pools.wait.end();
    const p = median(primaryMs);
    const cells = (variant: 'primary' | 'wait'): string => {
      const m = measured[variant];
      const r = median(m.ms);
      return `${r.toFixed(0)} ms | ${(r / p).toFixed(2)}x | ${m.stale} | ${((100 * m.replica) / (ROUNDS * ITERATIONS)).toFixed(1)}%`;
    };
    rows.push(`| ${connections} | ${p.toFixed(0)} ms | ${cells('primary')} | ${cells('wait')} |`);
  }
} finally {
  await cluster.stop();
}

console.log(`## Router read-your-writes: insert, then read it back (@koyo/router)

${ITERATIONS} iterations of "INSERT a row, then SELECT it by primary key" per round, each iteration one
session (\`withToken\`, as one HTTP request), split over N concurrent loops, through \`createRoutedPool\`
(primary + one streaming replica, PostgreSQL ${cluster.binaries.version}); \`readYourWrites: { mode: 'lsn' }\`
(default \`ownWrites: 'primary'\`) and \`{ mode: 'lsn', ownWrites: 'wait' }\` against the same loop with
every read sent to the primary; ${ROUNDS} alternating rounds, medians. Goal: at most 1.2x, 0 stale reads.

| connections | reads on the primary | read-your-writes (lsn) | ratio | stale reads | reads served by the replica | ownWrites: 'wait' | ratio | stale reads | reads served by the replica |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}`);
