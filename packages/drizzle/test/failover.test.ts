// Following the primary through a routed Drizzle database: a writer and 4 readers run while the
// primary dies and a replica is promoted. These kill and promote nodes, so each test starts its own
// cluster.
import { KoyoRouterError } from '@koyo/router';
import { startCluster, type Cluster } from '@koyo/testing';
import { logRecorder, queryUrl, until } from '@koyo/testing/vitest';
import type { RouteLogEntry } from '@koyo/router';
import { count, sql } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { afterEach, describe, expect, it } from 'vitest';
import { withRouting } from '../src/index.js';
import { DRIVERS, openDb } from './_helpers.js';

const w = pgTable('w', { id: integer('id').primaryKey() });

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('withRouting following the primary', () => {
  it.each(DRIVERS)(
    '%s, discover: the primary is killed and replica1 promoted under a writer and 4 readers; writes resume on it without a new db, no read fails, every acknowledged write is on it',
    async (driver) => {
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

      const nodes = [c.primary, ...c.replicas].map((n) => openDb(driver, n.url));
      const rec = logRecorder<RouteLogEntry>();
      const db = withRouting(
        nodes[0]!.db,
        nodes.slice(1).map((n) => n.db),
        { discover: true, failoverMs: 60_000, probeIntervalMs: 200, logger: rec.logger },
      );
      try {
        expect(await db.$router.discover()).toEqual({
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
              const [row] = await db
                .insert(w)
                .values({ id })
                .returning({ port: sql<number>`inet_server_port()` });
              acked.push({ id, port: row!.port, at: Date.now() });
            } catch (error) {
              failedWrites.push({ id, error });
            }
          }
        })();
        const readers = Array.from({ length: 4 }, async () => {
          while (!stopped) {
            try {
              await db.select({ n: count() }).from(w);
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
        // Writes resumed on the new primary through the same db.
        const onNew = acked.filter((a) => a.port === promoted.port);
        expect(onNew.length).toBeGreaterThan(0);
        // Server truth: every acknowledged write is on the new primary.
        const rows = await queryUrl<{ id: number }>(promoted.url, 'SELECT id FROM w');
        const present = new Set(rows.map((r) => r.id));
        expect(acked.filter((a) => !present.has(a.id))).toEqual([]);
        // A write that failed did so because the old primary went away while it ran, never for lack of a primary.
        for (const failed of failedWrites)
          expect(failed.error instanceof KoyoRouterError, String(failed.error)).toBe(false);
        expect(db.$router.primaryName).toBe('node2');
        expect(db.$router.replicaNames).toEqual(['node3']);
        expect(db.$primary).toBe(nodes[1]!.db);
        expect(db.$replicas).toEqual([nodes[2]!.db]);
        expect(db.$router.stats().failovers).toBe(1);
        expect(rec.entries.some((e) => e.event === 'failover' && e.node === 'node2')).toBe(true);
        // A transaction after the failover runs on the new primary.
        const port = await db.transaction(async (tx) => {
          await tx.insert(w).values({ id: -1 });
          const [row] = await tx
            .select({ port: sql<number>`inet_server_port()` })
            .from(w)
            .limit(1);
          return row!.port;
        });
        expect(port).toBe(promoted.port);
        expect(await queryUrl(promoted.url, 'SELECT id FROM w WHERE id = -1')).toEqual([
          { id: -1 },
        ]);
        console.log(
          `[failover drizzle ${driver}] from the primary's death: down ${goneAt - diedAt} ms, promote() returned ${promotedAt - diedAt} ms, ` +
            `first routed write acknowledged by the new primary ${onNew[0]!.at - diedAt} ms; ` +
            `${acked.length} writes acknowledged, ${failedWrites.length} failed (in flight at the death), ${reads.length} reads, 0 failed`,
        );
      } finally {
        db.$router.close();
        await Promise.all(nodes.map((n) => n.close()));
      }
    },
  );
  it.each(DRIVERS)(
    '%s, a list of candidate databases: writes and transactions go to the writable one; two writable candidates are SPLIT_BRAIN and the write runs nowhere',
    async (driver) => {
      const c = (cluster = await startCluster({ replicas: 1 }));
      await c.primary.query('CREATE TABLE w (id int PRIMARY KEY)');
      await c.syncReplicas();
      const standby = c.replicas[0]!;
      const nodes = [standby, c.primary].map((n) => openDb(driver, n.url));
      // The standby listed first: the candidate that is not in recovery is the primary.
      const db = withRouting(
        nodes.map((n) => n.db),
        [],
      );
      try {
        const [row] = await db
          .insert(w)
          .values({ id: 1 })
          .returning({ port: sql<number>`inet_server_port()` });
        expect(row!.port).toBe(c.primary.port);
        const port = await db.transaction(async (tx) => {
          await tx.insert(w).values({ id: 3 });
          const [r] = await tx
            .select({ port: sql<number>`inet_server_port()` })
            .from(w)
            .limit(1);
          return r!.port;
        });
        expect(port).toBe(c.primary.port);
        expect(db.$router.primaryName).toBe('node2');
        expect(db.$primary).toBe(nodes[1]!.db);
        db.$router.close();
        await standby.promote(); // the old primary is still up: two primaries
        const split = withRouting(
          nodes.map((n) => n.db),
          [],
        );
        try {
          await expect(split.insert(w).values({ id: 2 })).rejects.toMatchObject({
            code: 'SPLIT_BRAIN',
          });
        } finally {
          split.$router.close();
        }
        for (const node of [c.primary, standby])
          expect(await queryUrl(node.url, 'SELECT id FROM w WHERE id = 2')).toEqual([]);
      } finally {
        db.$router.close();
        await Promise.all(nodes.map((n) => n.close()));
      }
    },
  );
});
