// Following the primary: a writer and 4 readers run through the routed pool while the primary dies
// and a replica is promoted. These kill and promote nodes, so each test starts its own cluster.
import { startCluster } from '@koyo/testing';
import {
  clusterPerTest,
  FOLLOW_OPTIONS,
  failOver,
  runWorkload,
  startFailoverCluster,
  verifyFailover,
} from '@koyo/testing/vitest';
import { describe, expect, it } from 'vitest';
import { KoyoRouterError, standbyRejection, type Router } from '../src/index.js';
import { createRoutedPool } from '../src/pg.js';
import { createRoutedSql } from '../src/postgres.js';
import { queryUrl, recorder, until } from './_helpers.js';

const own = clusterPerTest();

describe('following the primary', () => {
  it('pg, discover: the primary is killed and replica1 promoted under a writer and 4 readers; writes resume on it, no read fails, every acknowledged write is on it; an open transaction fails, the next one runs on it', async () => {
    const c = await own(startFailoverCluster());
    const rec = recorder();
    const pool = createRoutedPool({
      primary: c.primary.url,
      replicas: c.replicas.map((r) => r.url),
      ...FOLLOW_OPTIONS,
      pool: { connectionTimeoutMillis: 5_000 },
      logger: rec.logger,
    });
    try {
      expect(await pool.router.discover()).toEqual({
        primary: 'node1',
        replicas: ['node2', 'node3'],
      });
      const w = runWorkload(
        async (id) =>
          (
            await pool.query<{ port: number }>(
              'INSERT INTO w (id) VALUES ($1) RETURNING inet_server_port() AS port',
              [id],
            )
          ).rows[0]!.port,
        () => pool.query('SELECT count(*) FROM w'),
      );
      // A transaction open on the primary when it dies: it fails and is not run again.
      const pinned = await pool.connect();
      pinned.on('error', () => undefined); // a checked-out pg client reports its lost connection here
      await pinned.query('BEGIN');
      await pinned.query('INSERT INTO w (id) VALUES (-2)');
      const times = await failOver(c, w, 'kill');
      const { promoted } = times;
      await verifyFailover(w, times, { label: 'pg, kill', routerError: KoyoRouterError });
      const commit = await pinned.query('COMMIT').then(
        () => undefined,
        (error: unknown) => error,
      );
      pinned.release(true);
      expect(commit).toBeInstanceOf(Error);
      expect(await queryUrl(promoted.url, 'SELECT id FROM w WHERE id = -2')).toEqual([]);
      // The promoted node left the replica set; the dead one is in neither.
      expect(pool.router.primaryName).toBe('node2');
      expect(pool.router.replicaNames).toEqual(['node3']);
      expect(pool.router.stats().failovers).toBe(1);
      expect(rec.entries.some((e) => e.event === 'failover' && e.node === 'node2')).toBe(true);
      // A transaction after the failover runs on the new primary.
      const port = await pool.transaction(async (client) => {
        await client.query('INSERT INTO w (id) VALUES (-1)');
        return (await client.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!
          .port;
      });
      expect(port).toBe(promoted.port);
    } finally {
      await pool.end();
    }
  });

  it('postgres.js, discover: the primary is shut down and replica1 promoted; writes and sql.begin resume on it; the old primary back as a standby joins the replicas', async () => {
    const c = await own(startFailoverCluster());
    const sql = createRoutedSql({
      primary: c.primary.url,
      replicas: c.replicas.map((r) => r.url),
      ...FOLLOW_OPTIONS,
      postgres: { onnotice: () => undefined, connect_timeout: 5 },
    });
    const router = sql.router as Router<unknown>;
    try {
      await router.discover();
      const w = runWorkload(
        async (id) => {
          const [row] = await sql<{ port: number }[]>`
            INSERT INTO w (id) VALUES (${id}) RETURNING inet_server_port() AS port`;
          return row!.port;
        },
        () => sql`SELECT count(*) FROM w`,
      );
      const old = c.primary;
      const times = await failOver(c, w, 'stop');
      const { promoted } = times;
      await verifyFailover(w, times, {
        label: 'postgres.js, shutdown',
        routerError: KoyoRouterError,
      });
      expect(router.primaryName).toBe('node2');
      expect(router.replicaNames).toEqual(['node3']);
      const port = await sql.begin(async (tx) => {
        await tx`INSERT INTO w (id) VALUES (-1)`;
        const [row] = await tx<{ port: number }[]>`SELECT inet_server_port() AS port`;
        return row!.port;
      });
      expect(port).toBe(promoted.port);

      // The old primary returns as a standby of the new one: discovery adds it to the replicas.
      await promoted.query("SELECT pg_create_physical_replication_slot('old_primary')");
      await old.makeStandbyOf(promoted, 'old_primary');
      await old.start();
      await until(() => router.replicaNames.includes('node1'), 'node1 back as a replica');
      expect(router.primaryName).toBe('node2');
      const [recovering] = await queryUrl<{ r: boolean }>(
        old.url,
        'SELECT pg_is_in_recovery() AS r',
      );
      expect(recovering!.r).toBe(true);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('two writable candidates are SPLIT_BRAIN: the write is refused and runs nowhere', async () => {
    const c = await own(startCluster({ replicas: 1 }));
    await c.primary.query('CREATE TABLE w (id int PRIMARY KEY)');
    await c.syncReplicas();
    await c.replicas[0]!.promote(); // the old primary is still up: two primaries
    const pool = createRoutedPool({ primary: [c.primary.url, c.replicas[0]!.url] });
    const sql = createRoutedSql({
      primary: [c.primary.url, c.replicas[0]!.url],
      postgres: { onnotice: () => undefined },
    });
    try {
      await expect(pool.query('INSERT INTO w (id) VALUES (1)')).rejects.toMatchObject({
        code: 'SPLIT_BRAIN',
      });
      await expect(sql`INSERT INTO w (id) VALUES (2)`).rejects.toMatchObject({
        code: 'SPLIT_BRAIN',
      });
      await expect(pool.router.discover()).rejects.toBeInstanceOf(KoyoRouterError);
      for (const node of [c.primary, c.replicas[0]!])
        expect(await queryUrl(node.url, 'SELECT id FROM w')).toEqual([]);
    } finally {
      await pool.end();
      await sql.end({ timeout: 1 });
    }
  });

  it('a candidate list without discover: the standby is skipped; after a switchover a write rejected by the demoted node (25006) runs on the new primary', async () => {
    const c = await own(startCluster({ replicas: 1 }));
    await c.primary.query('CREATE TABLE w (id int PRIMARY KEY)');
    await c.syncReplicas();
    const [standby, primary] = [c.replicas[0]!, c.primary];
    const rec = recorder();
    // The standby first: the router must find the primary by asking. No periodic check (a long
    // probeIntervalMs), so that the router still believes in the old primary after the switchover.
    const pool = createRoutedPool({
      primary: [standby.url, primary.url],
      replicas: [standby.url],
      probeIntervalMs: 600_000,
      logger: rec.logger,
    });
    try {
      const insert = async (id: number): Promise<number> =>
        (
          await pool.query<{ port: number }>(
            'INSERT INTO w (id) VALUES ($1) RETURNING inet_server_port() AS port',
            [id],
          )
        ).rows[0]!.port;
      expect(await insert(1)).toBe(primary.port);
      expect(pool.router.primaryName).toBe('node2');
      expect(pool.router.replicaNames).toEqual(['node1']);

      // Switchover: the primary stops cleanly, the standby is promoted, the old primary returns as
      // its standby. The next write reaches the demoted node, which rejects it (25006).
      await c.syncReplicas();
      await primary.stop();
      await standby.promote();
      await standby.query("SELECT pg_create_physical_replication_slot('old_primary')");
      await primary.makeStandbyOf(standby, 'old_primary');
      await primary.start();
      expect(await insert(2)).toBe(standby.port);
      const retry = rec.entries.find((e) => e.event === 'retry');
      expect(retry).toMatchObject({ node: 'node1', reason: 'retry:failover from node2' });
      expect(standbyRejection(retry!.error)).toBe('25006');
      // List mode: the replica set is the listed replicas minus the primary.
      expect(pool.router.primaryName).toBe('node1');
      expect(pool.router.replicaNames).toEqual([]);
      expect(await queryUrl(standby.url, 'SELECT id FROM w ORDER BY id')).toEqual([
        { id: 1 },
        { id: 2 },
      ]);
    } finally {
      await pool.end();
    }
  });
});
