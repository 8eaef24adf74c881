// Following the primary through a routed Knex: a writer and 4 readers run while the primary dies and a
// replica is promoted. These kill and promote nodes, so the test starts its own cluster.
import { startCluster } from '@koyo/testing';
import {
  clusterPerTest,
  DISCOVERED,
  failOver,
  FOLLOW_OPTIONS,
  runWorkload,
  startFailoverCluster,
  verifyFailover,
} from '@koyo/testing/vitest';
import { KoyoRouterError } from '@koyo/router';
import { describe, expect, it } from 'vitest';
import { routedKnex } from '../src/index.js';
import { queryUrl, recorder } from './_helpers.js';

const own = clusterPerTest();

describe('routedKnex following the primary', () => {
  it('discover: the primary is killed and replica1 promoted under a writer and 4 readers; writes resume on it without a new instance, no read fails, every acknowledged write is on it', async () => {
    const c = await own(startFailoverCluster());
    const rec = recorder();
    const knex = routedKnex({
      primary: { connection: c.primary.url, pool: { max: 4 }, acquireConnectionTimeout: 60_000 },
      replicas: c.replicas.map((r) => ({ connection: r.url, pool: { max: 4 } })),
      ...FOLLOW_OPTIONS,
      logger: rec.logger,
    });
    try {
      expect(await knex.router.discover()).toEqual(DISCOVERED);
      const load = runWorkload(
        async (id) => {
          const [row] = await knex('w')
            .insert({ id })
            .returning<{ port: number }[]>(knex.raw('inet_server_port() AS port'));
          return row!.port;
        },
        () => knex('w').count({ n: '*' }),
      );
      const times = await failOver(c, load, 'kill');
      const promoted = times.promoted;
      // Writes resumed on the new primary through the same instance; every acknowledged write is on it.
      await verifyFailover(load, times, { label: 'knex', routerError: KoyoRouterError });
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
    } finally {
      await knex.destroy();
    }
  });
  it('a primary list with two writable candidates is SPLIT_BRAIN: the write is refused and runs nowhere; with one writable, writes go to it', async () => {
    const c = await own(startCluster({ replicas: 1 }));
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
