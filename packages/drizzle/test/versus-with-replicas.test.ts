/**
 * The README's table, row by row: koyo's withRouting next to Drizzle's own withReplicas on the
 * same primary and replica, with the server saying where each statement ran.
 */
import { startCluster, type Cluster } from '@koyo/testing';
import { eq, sql } from 'drizzle-orm';
import { PgDatabase, withReplicas } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRouting, type RoutedDatabase } from '../src/index.js';
import { DRIVERS, openNodes, rowsOf, type AnyDb } from './_helpers.js';
import { DDL, users, WHERE } from './_schema.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ replicas: 1 });
});

afterAll(async () => {
  await cluster?.stop();
});

describe.each(DRIVERS)('withRouting vs withReplicas over drizzle-orm/%s', (driver) => {
  let nodes: ReturnType<typeof openNodes>;
  let koyo: RoutedDatabase<AnyDb>;
  let drizzleDb: AnyDb & { $primary: AnyDb; $replicas: AnyDb[] };

  beforeAll(async () => {
    const name = `versus_${driver.replace('-', '_')}`;
    await cluster.primary.query(`CREATE DATABASE ${name}`);
    const pool = openNodes(driver, cluster.primary.urlFor(name), []);
    await pool.primary.execute(sql.raw(DDL));
    await pool.close();
    await cluster.syncReplicas();
    nodes = openNodes(driver, cluster.primary.urlFor(name), [cluster.replicas[0]!.urlFor(name)]);
    koyo = withRouting(nodes.primary, nodes.replicas, {
      readYourWrites: { mode: 'lsn', waitMs: 0 },
    });
    drizzleDb = withReplicas(nodes.primary, nodes.replicas as [AnyDb]);
  });

  afterAll(async () => {
    koyo?.$router.close();
    await nodes?.close();
  });

  it('stale read after write: koyo reads its own write, withReplicas reads a stale replica', async () => {
    await cluster.replicas[0]!.pauseReplay();
    try {
      await koyo.insert(users).values({ name: 'koyo-ryw' });
      const [mine] = await koyo
        .select({ name: users.name, r: WHERE.r })
        .from(users)
        .where(eq(users.name, 'koyo-ryw'));
      expect(mine).toEqual({ name: 'koyo-ryw', r: false });
      await drizzleDb.insert(users).values({ name: 'drizzle-ryw' });
      const theirs = await drizzleDb
        .select({ name: users.name })
        .from(users)
        .where(eq(users.name, 'drizzle-ryw'));
      expect(theirs).toEqual([]); // the write is not there: the read went to the paused replica
      // The same after a transaction commits.
      await koyo.transaction(async (tx) => {
        await tx.insert(users).values({ name: 'koyo-ryw-tx' });
      });
      /** The committed row through koyo, with where it was read (`r`: on a replica). */
      const readCommitted = () =>
        koyo
          .select({ name: users.name, r: WHERE.r })
          .from(users)
          .where(eq(users.name, 'koyo-ryw-tx'));
      expect(await readCommitted()).toEqual([{ name: 'koyo-ryw-tx', r: false }]);
      // Once the replica has replayed the write, reads go back to it.
      await cluster.replicas[0]!.resumeReplay();
      await cluster.syncReplicas();
      // Learn the replica's new replay position (waitMs: 0 never waits for it). A periodic probe may
      // be under way from before the replay resumed: the second call starts a fresh one.
      await koyo.$router.probe();
      await koyo.$router.probe();
      expect(await readCommitted()).toEqual([{ name: 'koyo-ryw-tx', r: true }]);
    } finally {
      await cluster.replicas[0]!.resumeReplay();
      await cluster.syncReplicas();
    }
  });

  it('FOR UPDATE: koyo locks on the primary, withReplicas sends it to the replica, which refuses', async () => {
    const [row] = await koyo
      .select({ r: WHERE.r })
      .from(users)
      .where(eq(users.id, 1))
      .for('update');
    expect(row).toEqual({ r: false });
    await expect(
      drizzleDb.select({ r: WHERE.r }).from(users).where(eq(users.id, 1)).for('update'),
    ).rejects.toThrow();
    await expect(
      drizzleDb.select({ r: WHERE.r }).from(users).where(eq(users.id, 1)).for('update'),
    ).rejects.toMatchObject({ cause: { code: '25006' } });
  });

  it('writable CTE: koyo runs it on the primary, withReplicas on the replica, which refuses', async () => {
    const cte = (db: AnyDb) =>
      db.$with('ins').as(db.insert(users).values({ name: 'cte' }).returning({ id: users.id }));
    const koyoCte = cte(koyo);
    const [row] = await koyo.with(koyoCte).select({ r: WHERE.r }).from(koyoCte);
    expect(row).toEqual({ r: false });
    const drizzleCte = cte(drizzleDb);
    await expect(
      drizzleDb.with(drizzleCte).select({ r: WHERE.r }).from(drizzleCte),
    ).rejects.toMatchObject({ cause: { code: '25006' } });
  });

  it('reads through the outer db in a transaction: koyo reads in the transaction, withReplicas on the replica', async () => {
    /** Inserts `name` in a transaction and reads it back through the outer `db`, inside it. */
    const writeThenReadOutside = (db: typeof koyo | typeof drizzleDb, name: string) =>
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name });
        return db.select({ name: users.name, r: WHERE.r }).from(users).where(eq(users.name, name));
      });
    expect(await writeThenReadOutside(koyo, 'tx-koyo')).toEqual([{ name: 'tx-koyo', r: false }]);
    // another connection, on the replica: the row is not there
    expect(await writeThenReadOutside(drizzleDb, 'tx-drizzle')).toEqual([]);
  });

  it('$count and $with: koyo keeps them routed and whole, withReplicas drops $with’s selection and counts outside the transaction', async () => {
    const koyoTyped = koyo
      .$with('typed', { n: sql<number>`n`.as('n') })
      .as(sql`select 41 + 1 as n`);
    expect(await koyo.with(koyoTyped).select({ n: koyoTyped.n }).from(koyoTyped)).toEqual([
      { n: 42 },
    ]);
    expect(() => {
      const drizzleTyped = drizzleDb
        .$with('typed', { n: sql<number>`n`.as('n') })
        .as(sql`select 41 + 1 as n`);
      return drizzleDb.with(drizzleTyped).select({ n: drizzleTyped.n }).from(drizzleTyped).toSQL();
    }).toThrow();

    const koyoCount = await koyo.transaction(async (tx) => {
      await tx.insert(users).values({ name: 'count-koyo' });
      return koyo.$count(users, eq(users.name, 'count-koyo'));
    });
    expect(koyoCount).toBe(1);
    const drizzleCount = await drizzleDb.transaction(async (tx) => {
      await tx.insert(users).values({ name: 'count-drizzle' });
      return drizzleDb.$count(users, eq(users.name, 'count-drizzle'));
    });
    expect(drizzleCount).toBe(0);
  });

  it('lag: koyo skips a replica beyond maxLag, withReplicas keeps reading stale rows from it', async () => {
    const lagAware = withRouting(nodes.primary, nodes.replicas, {
      maxLag: { bytes: 1024 },
      probeIntervalMs: 60_000,
    });
    await lagAware.$router.probe(); // settles the probe started at creation, before the pause
    await cluster.replicas[0]!.pauseReplay();
    try {
      await nodes.primary.execute(
        sql`insert into users (name) select 'lag-' || g from generate_series(1, 200) g`,
      );
      const status = await lagAware.$router.probe();
      expect(status[0]?.withinLag).toBe(false);
      const [koyoRow] = await lagAware
        .select({ n: sql<number>`count(*)::int`, r: WHERE.r })
        .from(users)
        .where(sql`${users.name} like 'lag-%'`);
      expect(koyoRow).toEqual({ n: 200, r: false });
      const [drizzleRow] = await drizzleDb
        .select({ n: sql<number>`count(*)::int`, r: WHERE.r })
        .from(users)
        .where(sql`${users.name} like 'lag-%'`);
      expect(drizzleRow).toEqual({ n: 0, r: true });
    } finally {
      lagAware.$router.close();
      await cluster.replicas[0]!.resumeReplay();
      await cluster.syncReplicas();
    }
  });

  it('execute: koyo routes by the SQL, withReplicas always uses the primary', async () => {
    const probe = sql`select pg_is_in_recovery() as r`;
    const plain = withRouting(nodes.primary, nodes.replicas); // no read-your-writes state from earlier tests
    expect(rowsOf<{ r: boolean }>(await plain.execute(probe))[0]).toEqual({ r: true });
    expect(
      rowsOf<{ r: boolean }>(
        await plain.execute(
          sql`insert into users (name) values ('exec') returning pg_is_in_recovery() as r`,
        ),
      )[0],
    ).toEqual({ r: false });
    plain.$router.close();
    expect(rowsOf<{ r: boolean }>(await drizzleDb.execute(probe))[0]).toEqual({ r: false });
  });

  it('result type: koyo returns a real database of the primary’s class, withReplicas a plain object', () => {
    expect(koyo).toBeInstanceOf(PgDatabase);
    expect(koyo).toBeInstanceOf(nodes.primary.constructor);
    expect(drizzleDb).not.toBeInstanceOf(PgDatabase);
  });

  it('failover: koyo retries a read on the primary when the replica dies, withReplicas throws', async () => {
    const failover = withRouting(nodes.primary, nodes.replicas, { probeIntervalMs: 60_000 });
    const [before] = await failover.select({ r: WHERE.r }).from(users).limit(1);
    expect(before).toEqual({ r: true });
    await cluster.replicas[0]!.kill();
    try {
      const [after] = await failover.select({ r: WHERE.r }).from(users).limit(1);
      expect(after).toEqual({ r: false });
      expect(failover.$router.stats().retries).toBe(1);
      expect(failover.$router.replicaStatus()[0]?.healthy).toBe(false);
      await expect(drizzleDb.select({ r: WHERE.r }).from(users).limit(1)).rejects.toThrow();
    } finally {
      failover.$router.close();
      await cluster.replicas[0]!.start();
      await cluster.syncReplicas();
    }
  });
});
