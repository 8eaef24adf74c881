// Following the primary through a routed Knex: a writer and 4 readers run while the primary dies and a
// replica is promoted. These kill and promote nodes, so the test starts its own cluster.
import { startCluster, type Cluster } from '@koyo/testing';
import { KoyoRouterError } from '@koyo/router';
import { afterEach, describe, expect, it } from 'vitest';
import { routedKnex } from '../src/index.js';
import { queryUrl, recorder, until } from './_helpers.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('routedKnex following the primary', () => {
  it('discover: the primary is killed and replica1 promoted under a writer and 4 readers; writes resume on it without a new instance, no read fails, every acknowledged write is on it', async () => {
    const c = (cluster = await startCluster({ replicas: 2 }));
    // replica1 is a synchronous standby: every commit the primary acknowledged is on it when promoted.
    await c.primary.query("ALTER SYSTEM SET synchronous_standby_names = 'replica1'");
    await c.primary.query('SELECT pg_reload_conf()');
    await until(async () => {
      const rows = await c.primary.query(
        "SELECT 1 FROM pg_stat_replication WHERE application_name = 'replica1' AND sync_state = 'sync'",
      );
      return rows.length === 1;
    }, 'replica1 is a synchronous standby');
    await c.primary.query('CREATE TABLE w (id int PRIMARY KEY)');
    await c.syncReplicas();

    const rec = recorder();
    const knex = routedKnex({
      primary: { connection: c.primary.url, pool: { max: 4 }, acquireConnectionTimeout: 60_000 },
      replicas: c.replicas.map((r) => ({ connection: r.url, pool: { max: 4 } })),
      discover: true,
      failoverMs: 60_000,
      probeIntervalMs: 200,
      logger: rec.logger,
    });
    try {
      expect(await knex.router.discover()).toEqual({
        primary: 'node1',
        replicas: ['node2', 'node3'],
      });
      const acked: { id: number; port: number; at: number }[] = [];
      const failedWrites: { id: number; error: unknown }[] = [];
      const reads: { at: number }[] = [];
      const failedReads: unknown[] = [];
      let stopped = false;
      const writer = (async () => {
        for (let id = 1; !stopped; id++) {
          try {
            const [row] = await knex('w')
              .insert({ id })
              .returning<{ port: number }[]>(knex.raw('inet_server_port() AS port'));
            acked.push({ id, port: row!.port, at: Date.now() });
          } catch (error) {
            failedWrites.push({ id, error });
          }
        }
      })();
      const readers = Array.from({ length: 4 }, async () => {
        while (!stopped) {
          try {
            await knex('w').count({ n: '*' });
            reads.push({ at: Date.now() });
          } catch (error) {
            failedReads.push(error);
          }
        }
      });

      await until(() => acked.length >= 20, '20 writes before the failover');
      const diedAt = Date.now();
      await c.primary.kill();
      const goneAt = Date.now();
      const promoted = c.replicas[0]!;
      await promoted.promote();
      const promotedAt = Date.now();
      await until(
        () => acked.filter((a) => a.port === promoted.port).length >= 20,
        '20 writes on the promoted primary',
      );
      stopped = true;
      await Promise.all([writer, ...readers]);

      expect(failedReads).toEqual([]);
      expect(reads.filter((r) => r.at > diedAt).length).toBeGreaterThan(0);
      // Writes resumed on the new primary through the same instance.
      const onNew = acked.filter((a) => a.port === promoted.port);
      expect(onNew.length).toBeGreaterThan(0);
      // Server truth: every acknowledged write is on the new primary.
      const rows = await queryUrl<{ id: number }>(promoted.url, 'SELECT id FROM w');
      const present = new Set(rows.map((r) => r.id));
      expect(acked.filter((a) => !present.has(a.id))).toEqual([]);
      // A write that failed did so because the old primary went away while it ran, never for lack of a primary.
      for (const failed of failedWrites)
        expect(failed.error instanceof KoyoRouterError, String(failed.error)).toBe(false);
      expect(knex.router.primaryName).toBe('node2');
      expect(knex.router.replicaNames).toEqual(['node3']);
      expect(knex.replicas).toHaveLength(1);
      expect(knex.router.stats().failovers).toBe(1);
      expect(rec.entries.some((e) => e.event === 'failover' && e.node === 'node2')).toBe(true);
      // A transaction after the failover runs on the new primary.
      const port = await knex.transaction(async (trx) => {
        await trx('w').insert({ id: -1 });
        const row = await trx.first<{ port: number }>(trx.raw('inet_server_port() AS port'));
        return row.port;
      });
      expect(port).toBe(promoted.port);
      expect(await queryUrl(promoted.url, 'SELECT id FROM w WHERE id = -1')).toEqual([{ id: -1 }]);
      console.log(
        `[failover knex] from the primary's death: down ${goneAt - diedAt} ms, promote() returned ${promotedAt - diedAt} ms, ` +
          `first routed write acknowledged by the new primary ${onNew[0]!.at - diedAt} ms; ` +
          `${acked.length} writes acknowledged, ${failedWrites.length} failed (in flight at the death), ${reads.length} reads, 0 failed`,
      );
    } finally {
      await knex.destroy();
    }
  });
  it('a primary list with two writable candidates is SPLIT_BRAIN: the write is refused and runs nowhere; with one writable, writes go to it', async () => {
    const c = (cluster = await startCluster({ replicas: 1 }));
    await c.primary.query('CREATE TABLE w (id int PRIMARY KEY)');
    await c.syncReplicas();
    const standby = c.replicas[0]!;
    // The standby listed first: the candidate that is not in recovery is the primary.
    const knex = routedKnex({ primary: [standby.url, c.primary.url] });
    try {
      const [row] = await knex('w')
        .insert({ id: 1 })
        .returning<{ port: number }[]>(knex.raw('inet_server_port() AS port'));
      expect(row!.port).toBe(c.primary.port);
      expect(knex.router.primaryName).toBe('node2');
    } finally {
      await knex.destroy();
    }
    await standby.promote(); // the old primary is still up: two primaries
    const split = routedKnex({ primary: [standby.url, c.primary.url] });
    try {
      await expect(split('w').insert({ id: 2 })).rejects.toMatchObject({ code: 'SPLIT_BRAIN' });
      for (const node of [c.primary, standby])
        expect(await queryUrl(node.url, 'SELECT id FROM w WHERE id = 2')).toEqual([]);
    } finally {
      await split.destroy();
    }
  });
});
