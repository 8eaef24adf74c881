import { startCluster, type Cluster } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routedKnex, withSession, type RoutedKnex, type RoutedKnexOptions } from '../src/index.js';
import { proofOf, recorder, until } from './_helpers.js';

// Own cluster: these tests pause replay and kill replicas.
let cluster: Cluster;
const rec = recorder();
const instances: RoutedKnex[] = [];

// Knex warns about every refused connection while replicas are down.
const quiet = { warn: () => undefined };

function make(options: Partial<RoutedKnexOptions> = {}): RoutedKnex {
  const k = routedKnex({
    primary: {
      client: 'pg',
      connection: cluster.primary.url,
      pool: { min: 0, max: 3 },
      log: quiet,
    },
    replicas: cluster.replicas.map((r) => ({
      client: 'pg',
      connection: r.url,
      pool: { min: 0, max: 2 },
      log: quiet,
    })),
    logger: rec.logger,
    ...options,
  });
  instances.push(k);
  return k;
}

beforeAll(async () => {
  cluster = await startCluster({ replicas: 2 });
  await cluster.primary.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
  await cluster.syncReplicas();
});
afterAll(async () => {
  for (const k of instances) await k.destroy().catch(() => undefined);
  await cluster?.stop();
});

describe('read-your-writes with replay paused', () => {
  it('reads a row right after writing it, in the same session only', async () => {
    const knex = make({ readYourWrites: { mode: 'lsn', waitMs: 50 } });
    for (const r of cluster.replicas) await r.pauseReplay();
    try {
      let token: string | undefined;
      await withSession(async () => {
        await knex('notes').insert({ id: 1, body: 'first' });
        rec.clear();
        const row = await knex('notes').where({ id: 1 }).first();
        expect(row).toEqual({ id: 1, body: 'first' });
        expect(rec.queries().at(-1)).toMatchObject({ role: 'primary', reason: 'read-your-writes' });
        token = knex.router.readYourWritesToken();
      });
      expect(token).toMatch(/^koyo1\./);
      // Another session that wrote nothing reads a replica, which has not replayed the insert.
      await withSession(async () => {
        expect(await knex('notes').where({ id: 1 }).first()).toBeUndefined();
        expect((await proofOf(knex)).r).toBe(true);
      });
      // The token carries the position to another request.
      await knex.router.withToken(token, async () => {
        expect(await knex('notes').where({ id: 1 }).first()).toEqual({ id: 1, body: 'first' });
      });
      // A write committed by a transaction counts too.
      await withSession(async () => {
        await knex.transaction(async (trx) => {
          await trx('notes').insert({ id: 2, body: 'second' });
        });
        expect(await knex('notes').where({ id: 2 }).first()).toEqual({ id: 2, body: 'second' });
      });
    } finally {
      for (const r of cluster.replicas) await r.resumeReplay();
    }
    await cluster.syncReplicas();
    // Once a replica is known to have replayed the write (a probe saw it), the same session reads
    // from it again.
    await withSession(async () => {
      await knex('notes').insert({ id: 3, body: 'third' });
      await cluster.syncReplicas();
      await knex.router.probe();
      rec.clear();
      expect(await knex('notes').where({ id: 3 }).first()).toEqual({ id: 3, body: 'third' });
      expect(rec.queries().at(-1)).toMatchObject({ role: 'replica' });
    });
  });
});

describe('lag bound', () => {
  it('skips replicas beyond maxLag and comes back to them once they catch up', async () => {
    const knex = make({ maxLag: { bytes: 0 }, probeIntervalMs: 50 });
    for (const r of cluster.replicas) await r.pauseReplay();
    try {
      await knex('notes').insert({ id: 10, body: 'lag' });
      await knex.router.probe(); // may join a probe that started before the insert
      await knex.router.probe();
      rec.clear();
      const p = await proofOf(knex);
      expect(p.r).toBe(false);
      expect(rec.queries().at(-1)!.reason).toMatch(/^lag>/);
    } finally {
      for (const r of cluster.replicas) await r.resumeReplay();
    }
    await cluster.syncReplicas();
    await until(async () => (await proofOf(knex)).r, 'a replica back within maxLag');
  });
});

describe('failover', () => {
  it('keeps reading when a replica dies, ejects it, and uses it again after it restarts', async () => {
    const knex = make({ strategy: 'round-robin', ejectMs: 100, probeIntervalMs: 50 });
    // Warm both replica pools so the kill leaves dead idle connections behind.
    for (let i = 0; i < 4; i++) expect((await proofOf(knex)).r).toBe(true);
    const dead = cluster.replicas[0]!;
    await dead.kill();
    for (let i = 0; i < 6; i++) {
      const p = await proofOf(knex);
      expect(p.port).not.toBe(dead.port);
    }
    const stats = knex.router.stats();
    expect(stats.replicas[0]!.ejections).toBeGreaterThanOrEqual(1);
    // Writes are unaffected.
    await knex('notes').insert({ id: 20, body: 'still writing' });
    await dead.start();
    await until(async () => {
      const p = await proofOf(knex);
      return p.port === dead.port;
    }, 'the restarted replica to take reads again');
  });

  it('falls back to the primary when every replica is down', async () => {
    // A lag bound makes the router probe healthy replicas too, so it notices both deaths.
    const knex = make({ ejectMs: 60_000, maxLag: { bytes: 1024 ** 3 } });
    for (const r of cluster.replicas) await r.kill();
    try {
      await knex.router.probe();
      await knex.router.probe();
      expect(knex.router.replicaStatus().map((s) => s.healthy)).toEqual([false, false]);
      for (let i = 0; i < 3; i++) {
        const p = await proofOf(knex);
        expect(p.r).toBe(false);
      }
      expect(knex.router.stats().fallbacks).toBe(3);
    } finally {
      for (const r of cluster.replicas) await r.start();
    }
  });
});
