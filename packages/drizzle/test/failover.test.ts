// Following the primary through a routed Drizzle database: a writer and 4 readers run while the
// primary dies and a replica is promoted. These kill and promote nodes, so each test starts its own
// cluster.
import { KoyoRouterError } from '@koyo/router';
import { startCluster, type Cluster } from '@koyo/testing';
import {
  DISCOVERED,
  failOver,
  FOLLOW_OPTIONS,
  logRecorder,
  queryUrl,
  runWorkload,
  startFailoverCluster,
  verifyFailover,
} from '@koyo/testing/vitest';
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
      const c = (cluster = await startFailoverCluster());
      const nodes = [c.primary, ...c.replicas].map((n) => openDb(driver, n.url));
      const rec = logRecorder<RouteLogEntry>();
      const db = withRouting(
        nodes[0]!.db,
        nodes.slice(1).map((n) => n.db),
        { ...FOLLOW_OPTIONS, logger: rec.logger },
      );
      try {
        expect(await db.$router.discover()).toEqual(DISCOVERED);
        const load = runWorkload(
          async (id) => {
            const [row] = await db
              .insert(w)
              .values({ id })
              .returning({ port: sql<number>`inet_server_port()` });
            return row!.port;
          },
          () => db.select({ n: count() }).from(w),
        );
        const times = await failOver(c, load, 'kill');
        const promoted = times.promoted;
        // Writes resumed on the new primary through the same db; every acknowledged write is on it.
        await verifyFailover(load, times, {
          label: `drizzle ${driver}`,
          routerError: KoyoRouterError,
        });
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
