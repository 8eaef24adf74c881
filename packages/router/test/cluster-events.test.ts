// Lag, read-your-writes and failover: these pause replay and kill nodes, so they use their own cluster.
import { startCluster, type Cluster } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KoyoRouterError, withSession, type RouterOptions, type Router } from '../src/index.js';
import { createRoutedPool } from '../src/pg.js';
import { createRoutedSql } from '../src/postgres.js';
import { recorder, stopImmediately, until } from './_helpers.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ replicas: 2 });
  await cluster.primary.query(
    'CREATE TABLE t (id int PRIMARY KEY, note text); CREATE TABLE bulk (id serial, payload text)',
  );
  await cluster.syncReplicas();
});
afterAll(async () => {
  await cluster?.stop();
});

interface Subject {
  router: Router<unknown>;
  rec: ReturnType<typeof recorder>;
  q(text: string, values?: unknown[]): Promise<Record<string, any>[]>;
  end(): Promise<void>;
}

type Make = (options: RouterOptions & { replicaUrls?: string[] }) => Subject;

/** Both adapters' nodes (every replica unless `replicaUrls`) and their routing log. */
const onCluster = (replicaUrls: string[] | undefined, rec: ReturnType<typeof recorder>) => ({
  primary: cluster.primary.url,
  replicas: replicaUrls ?? cluster.replicas.map((r) => r.url),
  logger: rec.logger,
});

const makePg: Make = ({ replicaUrls, ...options }) => {
  const rec = recorder();
  const pool = createRoutedPool({ ...onCluster(replicaUrls, rec), ...options });
  return {
    rec,
    router: pool.router,
    q: async (text, values) => (await pool.query(text, values)).rows,
    end: () => pool.end(),
  };
};

const makePostgres: Make = ({ replicaUrls, ...options }) => {
  const rec = recorder();
  const sql = createRoutedSql({
    ...onCluster(replicaUrls, rec),
    postgres: { onnotice: () => undefined, connect_timeout: 5 },
    ...options,
  });
  return {
    rec,
    router: sql.router as Router<unknown>,
    q: async (text, values) => await sql.unsafe(text, values),
    end: () => sql.end(),
  };
};

const WHERE = 'SELECT inet_server_port() AS port';

async function portOf(s: Subject): Promise<number> {
  const [row] = await s.q(WHERE);
  return row!.port as number;
}

describe.each([
  ['pg', makePg, 1000],
  ['postgres', makePostgres, 2000],
] as const)('cluster events through %s', (_kind, make, base) => {
  const [r1, r2] = [0, 1];
  const port = (i: number): number => cluster.replicas[i]!.port;
  type Replica = (typeof cluster.replicas)[number];
  /** Does `action` to replica1, then to replica2. */
  const onBoth = async (action: (replica: Replica) => Promise<unknown>): Promise<void> => {
    for (const i of [r1, r2]) await action(cluster.replicas[i]!);
  };
  /** Reads until both replicas served a read; returns every port seen. */
  const untilBothServe = async (read: () => Promise<number>, what: string) => {
    const seen = new Set<number>();
    await until(async () => {
      seen.add(await read());
      return seen.has(port(r1)) && seen.has(port(r2));
    }, what);
    return seen;
  };

  it('read-your-writes (lsn): with one replica paused the read after a write sees the row; with both paused it goes to the primary; after resume reads return to replicas', async () => {
    const s = make({
      readYourWrites: { mode: 'lsn', waitMs: 30_000, ownWrites: 'wait' },
      strategy: 'round-robin',
      probeIntervalMs: 100,
    });
    try {
      await cluster.replicas[r1]!.pauseReplay();
      await withSession(async () => {
        await s.q('INSERT INTO t VALUES ($1, $2)', [base + 1, 'fresh']);
        for (let i = 0; i < 6; i++) {
          const rows = await s.q('SELECT note, inet_server_port() AS port FROM t WHERE id = $1', [
            base + 1,
          ]);
          expect(rows).toHaveLength(1);
          expect(rows[0]!.note).toBe('fresh');
          // never the paused replica; the caught-up one is waited for
          expect(rows[0]!.port).toBe(port(r2));
        }
      });
      // the paused replica really is stale: a read in a fresh session can land there and miss the row
      expect(
        await cluster.replicas[r1]!.query('SELECT count(*)::int AS n FROM t WHERE id = $1', [
          base + 1,
        ]),
      ).toEqual([{ n: 0 }]);

      await cluster.replicas[r2]!.pauseReplay();
      const quick = make({ readYourWrites: { mode: 'lsn', waitMs: 0 } });
      let token: string | undefined;
      try {
        await withSession(async () => {
          await quick.q('INSERT INTO t VALUES ($1, $2)', [base + 2, 'both paused']);
          const rows = await quick.q('SELECT note, pg_is_in_recovery() AS r FROM t WHERE id = $1', [
            base + 2,
          ]);
          expect(rows).toEqual([{ note: 'both paused', r: false }]);
          expect(quick.rec.last()).toMatchObject({ node: 'primary', reason: 'read-your-writes' });
          token = quick.router.readYourWritesToken();
        });
        expect(token).toMatch(/^koyo1\.lsn\.[0-9A-F]+\/[0-9A-F]+$/);
        // another request: without the token it reads a (stale) replica, with it the primary
        await withSession(async () => {
          expect(
            await quick.q(
              'SELECT count(*)::int AS n, pg_is_in_recovery() AS r FROM t WHERE id = $1',
              [base + 2],
            ),
          ).toEqual([{ n: 0, r: true }]);
        });
        await quick.router.withToken(token, async () => {
          expect(
            await quick.q(
              'SELECT count(*)::int AS n, pg_is_in_recovery() AS r FROM t WHERE id = $1',
              [base + 2],
            ),
          ).toEqual([{ n: 1, r: false }]);
        });
        expect(() => quick.router.withToken('koyo1.lsn.nope', () => 1)).toThrow(KoyoRouterError);
      } finally {
        await quick.end();
      }

      await onBoth((r) => r.resumeReplay());
      await cluster.syncReplicas();
      await withSession(async () => {
        await s.q('INSERT INTO t VALUES ($1, $2)', [base + 3, 'after resume']);
        const seen = await untilBothServe(async () => {
          const rows = await s.q('SELECT note, inet_server_port() AS port FROM t WHERE id = $1', [
            base + 3,
          ]);
          expect(rows[0]!.note).toBe('after resume');
          return rows[0]!.port as number;
        }, 'reads on both replicas again');
        expect(seen.has(cluster.primary.port)).toBe(false);
      });
    } finally {
      await onBoth((r) => r.resumeReplay());
      await s.end();
    }
  });

  it('read-your-writes (window): reads go to the primary for the window after a write, in that session only', async () => {
    const s = make({ readYourWrites: { mode: 'window', ms: 600_000 } });
    try {
      await withSession(async () => {
        expect(s.router.readYourWritesToken()).toBeUndefined();
        await s.q('INSERT INTO t VALUES ($1, $2)', [base + 4, 'window']);
        expect(
          await s.q('SELECT note, pg_is_in_recovery() AS r FROM t WHERE id = $1', [base + 4]),
        ).toEqual([{ note: 'window', r: false }]);
        expect(s.rec.last().reason).toBe('read-your-writes');
        expect(s.router.readYourWritesToken()).toMatch(/^koyo1\.at\.\d+$/);
      });
      await withSession(async () => {
        expect((await s.q('SELECT pg_is_in_recovery() AS r'))[0]).toEqual({ r: true });
      });
    } finally {
      await s.end();
    }
  });

  it('lag ejection: a replica paused behind 10 MB of WAL gets no reads until it catches up; least-lag and all-lagging fallback', async () => {
    const s = make({
      maxLag: { bytes: 1024 * 1024 },
      strategy: 'round-robin',
      probeIntervalMs: 100,
    });
    const leastLag = make({ strategy: 'least-lag', probeIntervalMs: 100 });
    const byTime = make({ maxLag: { ms: 1 }, strategy: 'round-robin', probeIntervalMs: 100 });
    try {
      await until(
        async () => new Set(await Promise.all([1, 2, 3, 4].map(() => portOf(s)))).size === 2,
        'both replicas in use',
      );
      await cluster.replicas[r1]!.pauseReplay();
      await cluster.primary.query(
        "INSERT INTO bulk (payload) SELECT repeat('x', 1000) FROM generate_series(1, 10000)",
      );
      await cluster.syncReplicas(); // replica2 has replayed it all (the paused one is skipped)
      await until(async () => {
        const [a, b] = await s.router.probe();
        return a!.withinLag === false && b!.withinLag === true;
      }, 'replica1 beyond maxLag, replica2 within');
      const status = s.router.replicaStatus()[r1]!;
      expect(status.lagBytes).toBeGreaterThan(1024 * 1024);
      for (let i = 0; i < 10; i++) expect(await portOf(s)).toBe(port(r2));
      await until(async () => {
        const [a, b] = await leastLag.router.probe();
        return a!.lagBytes !== undefined && b!.lagBytes !== undefined && a!.lagBytes > b!.lagBytes;
      }, 'least-lag sees the lag');
      for (let i = 0; i < 10; i++) expect(await portOf(leastLag)).toBe(port(r2));
      // the same with a time bound: replica1 has been behind since the write
      await until(async () => {
        const [a, b] = await byTime.router.probe();
        return a!.withinLag === false && a!.lagMs! > 0 && b!.withinLag === true;
      }, 'replica1 beyond maxLag.ms');
      for (let i = 0; i < 10; i++) expect(await portOf(byTime)).toBe(port(r2));

      // both lagging: reads fall back to the primary, with the reason
      await cluster.replicas[r2]!.pauseReplay();
      await cluster.primary.query(
        "INSERT INTO bulk (payload) SELECT repeat('y', 1000) FROM generate_series(1, 10000)",
      );
      await until(
        async () => (await s.router.probe()).every((r) => !r.withinLag),
        'both beyond maxLag',
      );
      expect(await portOf(s)).toBe(cluster.primary.port);
      expect(s.rec.last().reason).toBe('lag>1MB');
      expect(s.rec.lines.at(-1)).toMatch(/^Primary: primary \(lag>1MB\) SELECT inet_server_port/);
      expect(s.router.stats().fallbacks).toBeGreaterThan(0);

      await onBoth((r) => r.resumeReplay());
      await until(
        async () => (await s.router.probe()).every((r) => r.withinLag),
        'both back within maxLag',
      );
      const seen = await untilBothServe(() => portOf(s), 'traffic back on both replicas');
      expect(seen.has(cluster.primary.port)).toBe(false);
    } finally {
      await onBoth((r) => r.resumeReplay());
      await s.end();
      await leastLag.end();
      await byTime.end();
    }
  });

  it('a killed replica is ejected, reads keep succeeding (also with both down), and it is used again after restart', async () => {
    const s = make({
      strategy: 'round-robin',
      ejectMs: 200,
      probeIntervalMs: 100,
      fallback: 'primary',
    });
    try {
      await until(
        async () => new Set(await Promise.all([1, 2, 3, 4].map(() => portOf(s)))).size === 2,
        'both replicas in use',
      );
      await cluster.replicas[r1]!.kill();
      for (let i = 0; i < 10; i++) expect(await portOf(s)).toBe(port(r2));
      expect(s.router.stats().replicas[r1]!.ejections).toBeGreaterThanOrEqual(1);
      expect(s.router.replicaStatus()[r1]!.healthy).toBe(false);

      await cluster.replicas[r2]!.kill();
      for (let i = 0; i < 5; i++) expect(await portOf(s)).toBe(cluster.primary.port);
      expect(s.rec.last().reason).toMatch(
        /^replicas-unavailable$|^retry:connection-error from replica2$/,
      );

      await onBoth((r) => r.start());
      await until(
        async () => (await s.router.probe()).every((r) => r.healthy),
        'both replicas reinstated',
      );
      await untilBothServe(() => portOf(s), 'both replicas used again');
      expect(s.rec.lines.some((line) => /^Replica: replica1 ejected for 200ms/.test(line))).toBe(
        true,
      );
      expect(
        s.rec.lines.some((line) => line === 'Replica: replica1 reinstated (probe succeeded)'),
      ).toBe(true);
    } finally {
      await onBoth(async (r) => (r.pid === undefined ? r.start() : undefined));
      await s.end();
    }
  });

  it('both replicas stopped at the same moment (immediate shutdown) under 4 concurrent readers: no read fails, reads move to the primary', async () => {
    const s = make({ strategy: 'round-robin', ejectMs: 60_000, probeIntervalMs: 100 });
    const replicas = [cluster.replicas[r1]!, cluster.replicas[r2]!];
    try {
      await until(
        async () => new Set(await Promise.all([1, 2, 3, 4].map(() => portOf(s)))).size === 2,
        'both replicas in use',
      );
      const failures: unknown[] = [];
      let stopped = false;
      const readsAfterStop = [0, 0, 0, 0];
      const reader = async (n: number): Promise<void> => {
        // Each reader keeps reading until it has done 20 reads that started after the stop.
        while (readsAfterStop[n]! < 20) {
          const after = stopped;
          try {
            await portOf(s);
          } catch (error) {
            failures.push(error);
          }
          if (after) readsAfterStop[n]!++;
        }
      };
      const readers = [0, 1, 2, 3].map(reader);
      await until(() => s.router.stats().replicas.every((r) => r.reads >= 10), 'reads on both');
      await stopImmediately(replicas);
      stopped = true;
      await Promise.all(readers);
      expect(failures).toEqual([]);
      // the replicas really were down: the reads after the stop ran on the primary
      expect(await portOf(s)).toBe(cluster.primary.port);
      expect(s.router.replicaStatus().map((r) => r.healthy)).toEqual([false, false]);
    } finally {
      for (const replica of replicas) if (replica.pid === undefined) await replica.start();
      await s.end();
    }
  });

  it('a strategy function that keeps naming a dead replica: the retry goes to the primary, once per read', async () => {
    const s = make({ strategy: () => 'replica1', ejectMs: 60_000, probeIntervalMs: 100 });
    try {
      expect(await portOf(s)).toBe(port(r1));
      // the lag probe's connection has started up too (see the README's limits on postgres.js)
      await s.router.probe();
      await cluster.replicas[r1]!.kill();
      for (let i = 0; i < 3; i++) {
        const before = s.rec.entries.length;
        expect(await portOf(s)).toBe(cluster.primary.port);
        expect(
          s.rec.entries.slice(before).filter((e) => e.event === 'query' || e.event === 'retry'),
        ).toMatchObject([
          { event: 'query', node: 'replica1' },
          { event: 'retry', node: 'primary', reason: 'retry:connection-error from replica1' },
        ]);
      }
    } finally {
      if (cluster.replicas[r1]!.pid === undefined) await cluster.replicas[r1]!.start();
      await s.end();
    }
  });

  it("fallback: 'error' throws NO_REPLICA_AVAILABLE when the only replica is down", async () => {
    const s = make({
      replicaUrls: [cluster.replicas[r1]!.url],
      fallback: 'error',
      ejectMs: 200,
      probeIntervalMs: 100,
    });
    try {
      expect(await portOf(s)).toBe(port(r1));
      await cluster.replicas[r1]!.kill();
      for (let i = 0; i < 2; i++) {
        const error = await s.q(WHERE).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(KoyoRouterError);
        expect(error).toMatchObject({ code: 'NO_REPLICA_AVAILABLE', name: 'KoyoRouterError' });
      }
      // writes are unaffected
      expect(
        await s.q('INSERT INTO t VALUES ($1, $2) RETURNING pg_is_in_recovery() AS r', [
          base + 5,
          'write',
        ]),
      ).toEqual([{ r: false }]);
      await cluster.replicas[r1]!.start();
      await until(async () => (await s.router.probe())[0]!.healthy, 'replica reinstated');
      expect(await portOf(s)).toBe(port(r1));
    } finally {
      if (cluster.replicas[r1]!.pid === undefined) await cluster.replicas[r1]!.start();
      await s.end();
    }
  });
});
