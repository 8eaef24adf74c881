import { testCluster } from '@koyo/testing/vitest';
import { and, eq, is, lte, sql } from 'drizzle-orm';
import { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { PgDatabase, PgTransaction } from 'drizzle-orm/pg-core';
import { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFromPrimary, withRouting, type RoutedDatabase } from '../src/index.js';
import {
  type AnyDb,
  closeRouted,
  DRIVERS,
  type Nodes,
  openSchemaNodes,
  recorder,
  rowsOf,
} from './_helpers.js';
import { posts, userCount, users, WHERE } from './_schema.js';

describe.each(DRIVERS)('withRouting over drizzle-orm/%s', (driver) => {
  let nodes: Nodes;
  let db: RoutedDatabase<AnyDb>;
  let log: ReturnType<typeof recorder>;
  let primaryPort: number;
  let replicaPorts: number[];

  beforeAll(async () => {
    nodes = await openSchemaNodes(driver, 'drz_routing');
    log = recorder();
    db = withRouting(nodes.primary, nodes.replicas, { logger: log.logger });
    primaryPort = testCluster().primary.port;
    replicaPorts = testCluster().replicas.map((r) => r.port);
  });

  afterAll(() => closeRouted(db, nodes));

  const onReplica = (row: { r: boolean; port: number } | undefined): void => {
    expect(row?.r).toBe(true);
    expect(replicaPorts).toContain(Number(row?.port));
  };
  const onPrimary = (row: { r: boolean; port: number } | undefined): void => {
    expect(row?.r).toBe(false);
    expect(Number(row?.port)).toBe(primaryPort);
  };

  it('is a real Drizzle database of the primary’s class', () => {
    expect(db).toBeInstanceOf(PgDatabase);
    expect(is(db, PgDatabase)).toBe(true);
    expect(db).toBeInstanceOf(driver === 'node-postgres' ? NodePgDatabase : PostgresJsDatabase);
    expect(db.constructor).toBe(nodes.primary.constructor);
    expect(db.$primary).toBe(nodes.primary);
    expect(db.$replicas).toEqual(nodes.replicas);
    expect((db as unknown as { $client: unknown }).$client).toBe(
      (nodes.primary as unknown as { $client: unknown }).$client,
    );
  });

  it('select, selectDistinct and selectDistinctOn run on a replica', async () => {
    onReplica(
      (
        await db
          .select({ r: WHERE.r, port: WHERE.port, name: users.name })
          .from(users)
          .where(eq(users.id, 1))
      )[0],
    );
    onReplica((await db.selectDistinct({ r: WHERE.r, port: WHERE.port }).from(users))[0]);
    onReplica(
      (
        await db
          .selectDistinctOn([users.id], { r: WHERE.r, port: WHERE.port, id: users.id })
          .from(users)
          .orderBy(users.id)
      )[0],
    );
    const rows = await db.select().from(users).where(lte(users.id, 3)).orderBy(users.id);
    expect(rows.map((u) => u.name)).toEqual(['ada', 'grace', 'linus']);
  });

  it('$count runs on a replica (and counts with Drizzle’s own result mapping)', async () => {
    // The filter is only true on a hot standby: the count proves where it ran.
    expect(await db.$count(users, sql`pg_is_in_recovery() and ${users.id} <= 3`)).toBe(3);
    expect(await db.$count(users, lte(users.id, 3))).toBe(3);
    const [row] = await db
      .select({
        n: db.$count(posts, and(eq(posts.userId, users.id), lte(posts.id, 3))),
        r: WHERE.r,
      })
      .from(users)
      .where(eq(users.id, 1));
    expect(row).toEqual({ n: 2, r: true });
  });

  it('with/$with reads run on a replica, a writable CTE on the primary', async () => {
    const sq = db.$with('sq').as(db.select({ id: users.id }).from(users));
    onReplica((await db.with(sq).select({ r: WHERE.r, port: WHERE.port }).from(sq))[0]);
    const typed = db.$with('typed', { n: sql<number>`n`.as('n') }).as(sql`select 41 + 1 as n`);
    expect(await db.with(typed).select({ n: typed.n }).from(typed)).toEqual([{ n: 42 }]);
    const inserted = db
      .$with('inserted')
      .as(db.insert(users).values({ name: 'cte' }).returning({ id: users.id }));
    const [row] = await db
      .with(inserted)
      .select({ r: WHERE.r, port: WHERE.port, id: inserted.id })
      .from(inserted);
    onPrimary(row);
    await db.delete(users).where(eq(users.name, 'cte'));
  });

  it('relational queries (db.query.*) run on a replica', async () => {
    // Seed rows only: other tests write (and delete) rows the replica may not have replayed yet.
    const found = await db.query.users.findMany({
      with: { posts: { where: lte(posts.id, 3) } },
      extras: { r: WHERE.r, port: WHERE.port },
      where: lte(users.id, 3),
      orderBy: users.id,
    });
    expect(found.map((u) => [u.name, u.posts.length])).toEqual([
      ['ada', 2],
      ['grace', 1],
      ['linus', 0],
    ]);
    onReplica(found[0]);
    onReplica(await db.query.users.findFirst({ extras: { r: WHERE.r, port: WHERE.port } }));
  });

  it('execute routes by the SQL it runs', async () => {
    onReplica(
      rowsOf<{ r: boolean; port: number }>(
        await db.execute(sql`select pg_is_in_recovery() as r, inet_server_port() as port`),
      )[0],
    );
    onPrimary(
      rowsOf<{ r: boolean; port: number }>(
        await db.execute(
          sql`insert into posts (user_id, title) values (3, 'x') returning pg_is_in_recovery() as r, inet_server_port() as port`,
        ),
      )[0],
    );
    onPrimary(
      rowsOf<{ r: boolean; port: number }>(
        await db.execute(
          sql`select nextval('users_id_seq') as n, pg_is_in_recovery() as r, inet_server_port() as port`,
        ),
      )[0],
    );
    onReplica(
      rowsOf<{ r: boolean; port: number }>(
        await db.execute('select pg_is_in_recovery() as r, inet_server_port() as port'),
      )[0],
    );
    await db.delete(posts).where(eq(posts.title, 'x'));
  });

  it('prepared statements route on every execution', async () => {
    const byId = db
      .select({ r: WHERE.r, port: WHERE.port, name: users.name })
      .from(users)
      .where(eq(users.id, sql.placeholder('id')))
      .prepare('koyo_by_id');
    const [first] = await byId.execute({ id: 2 });
    onReplica(first);
    expect(first?.name).toBe('grace');
    const [inPrimaryScope] = await readFromPrimary(() => byId.execute({ id: 2 }));
    onPrimary(inPrimaryScope);
    const rename = db
      .update(users)
      .set({ name: sql`${users.name}` })
      .where(eq(users.id, sql.placeholder('id')))
      .returning({ r: WHERE.r, port: WHERE.port })
      .prepare('koyo_rename');
    onPrimary((await rename.execute({ id: 1 }))[0]);
  });

  it('FOR UPDATE / FOR SHARE reads run on the primary', async () => {
    onPrimary(
      (
        await db
          .select({ r: WHERE.r, port: WHERE.port })
          .from(users)
          .where(eq(users.id, 1))
          .for('update')
      )[0],
    );
    onPrimary(
      (
        await db
          .select({ r: WHERE.r, port: WHERE.port })
          .from(users)
          .where(eq(users.id, 1))
          .for('share', { skipLocked: true })
      )[0],
    );
  });

  it('insert, update, delete and refreshMaterializedView run on the primary', async () => {
    const [inserted] = await db
      .insert(users)
      .values({ name: 'temp' })
      .returning({ id: users.id, r: WHERE.r, port: WHERE.port });
    onPrimary(inserted);
    onPrimary(
      (
        await db
          .update(users)
          .set({ name: 'temp2' })
          .where(eq(users.id, inserted!.id))
          .returning({ r: WHERE.r, port: WHERE.port })
      )[0],
    );
    onPrimary(
      (
        await db
          .delete(users)
          .where(eq(users.id, inserted!.id))
          .returning({ r: WHERE.r, port: WHERE.port })
      )[0],
    );
    const before = log.queries().length;
    await db.refreshMaterializedView(userCount);
    const entry = log
      .queries()
      .slice(before)
      .find((e) => /refresh materialized view/i.test(e.sql ?? ''));
    expect(entry).toMatchObject({ role: 'primary', node: 'primary' });
    expect(await db.$primary.select().from(userCount)).toEqual([{ n: 3 }]);
  });

  it('a transaction runs on the primary, and the outer db runs inside it', async () => {
    const result = await db.transaction(async (tx) => {
      expect(tx).toBeInstanceOf(PgTransaction);
      const [mine] = await tx
        .select({ r: WHERE.r, port: WHERE.port, pid: WHERE.pid })
        .from(users)
        .limit(1);
      onPrimary(mine);
      await tx.insert(users).values({ name: 'in-tx' });
      // Through the outer db: the same connection, so the uncommitted row is visible.
      const [outer] = await db
        .select({ r: WHERE.r, port: WHERE.port, pid: WHERE.pid })
        .from(users)
        .where(eq(users.name, 'in-tx'));
      expect(outer).toEqual(mine);
      expect(await db.$count(users, eq(users.name, 'in-tx'))).toBe(1);
      const found = await db.query.users.findFirst({
        where: eq(users.name, 'in-tx'),
        extras: { pid: WHERE.pid },
      });
      expect(found?.pid).toBe(mine!.pid);
      expect(
        rowsOf<{ pid: number }>(await db.execute(sql`select pg_backend_pid() as pid`))[0]?.pid,
      ).toBe(mine!.pid);
      // Nested through the outer db: a savepoint of the same transaction.
      await expect(
        db.transaction(async (inner) => {
          await inner.insert(users).values({ name: 'rolled-back' });
          throw new Error('undo the savepoint');
        }),
      ).rejects.toThrow('undo the savepoint');
      await tx.transaction(async (inner) => {
        const [row] = await inner.select({ pid: WHERE.pid }).from(users).limit(1);
        expect(row?.pid).toBe(mine!.pid);
        await inner.insert(users).values({ name: 'savepoint' });
      });
      return db.$count(users, sql`${users.name} in ('in-tx', 'rolled-back', 'savepoint')`);
    });
    expect(result).toBe(2);
    expect(
      await readFromPrimary(() => db.$count(users, sql`${users.name} in ('in-tx', 'savepoint')`)),
    ).toBe(2);
    await db.delete(users).where(sql`${users.name} in ('in-tx', 'savepoint')`);
    const inTx = log
      .queries()
      .filter((e) => e.reason === 'in-transaction' || e.reason === 'pinned-connection');
    expect(inTx.length).toBeGreaterThan(5);
    expect(inTx.every((e) => e.node === 'primary')).toBe(true);
  });

  it('a rolled-back transaction leaves nothing, and reads after it go to replicas again', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name: 'ghost' });
        tx.rollback();
      }),
    ).rejects.toThrow();
    expect(await readFromPrimary(() => db.$count(users, eq(users.name, 'ghost')))).toBe(0);
    onReplica((await db.select({ r: WHERE.r, port: WHERE.port }).from(users).limit(1))[0]);
  });

  it('transaction config is applied', async () => {
    const level = await db.transaction(
      async () =>
        rowsOf<{ l: string }>(
          await db.execute(sql`select current_setting('transaction_isolation') as l`),
        )[0]?.l,
      {
        isolationLevel: 'serializable',
      },
    );
    expect(level).toBe('serializable');
  });

  it('$primary and $replicas run where they are, unrouted', async () => {
    onPrimary((await db.$primary.select({ r: WHERE.r, port: WHERE.port }).from(users).limit(1))[0]);
    for (const replica of db.$replicas)
      onReplica((await replica.select({ r: WHERE.r, port: WHERE.port }).from(users).limit(1))[0]);
  });

  it('readFromPrimary sends reads to the primary', async () => {
    onPrimary(
      await readFromPrimary(
        async () => (await db.select({ r: WHERE.r, port: WHERE.port }).from(users).limit(1))[0],
      ),
    );
  });

  it('a builder runs in the routing context it was written in, even when awaited outside it', async () => {
    // Drizzle's builders run when awaited: here after readFromPrimary has returned.
    onPrimary(
      (
        await readFromPrimary(() =>
          db.select({ r: WHERE.r, port: WHERE.port }).from(users).limit(1),
        )
      )[0],
    );
    expect(await readFromPrimary(() => db.$count(users, sql`pg_is_in_recovery()`))).toBe(0);
    onPrimary(
      await readFromPrimary(() =>
        db.query.users.findFirst({ extras: { r: WHERE.r, port: WHERE.port } }),
      ),
    );
    onPrimary(
      rowsOf<{ r: boolean; port: number }>(
        await readFromPrimary(() =>
          db.execute(sql`select pg_is_in_recovery() as r, inet_server_port() as port`),
        ),
      )[0],
    );
  });

  it('a named prepared statement runs in the context of each execution', async () => {
    const prepared = readFromPrimary(() =>
      db
        .select({ r: WHERE.r, port: WHERE.port, pid: WHERE.pid })
        .from(users)
        .limit(1)
        .prepare('koyo_ctx'),
    );
    onReplica((await prepared.execute())[0]);
    onPrimary((await readFromPrimary(() => prepared.execute()))[0]);
    await db.transaction(async (tx) => {
      const [mine] = await tx.select({ pid: WHERE.pid }).from(users).limit(1);
      expect((await prepared.execute())[0]?.pid).toBe(mine!.pid);
    });
  });

  it('ignoreTransactions lets reads through the outer db go to replicas; tx itself stays on the primary', async () => {
    const relaxed = withRouting(nodes.primary, nodes.replicas, { ignoreTransactions: true });
    try {
      await relaxed.transaction(async (tx) => {
        onPrimary((await tx.select({ r: WHERE.r, port: WHERE.port }).from(users).limit(1))[0]);
        onReplica((await relaxed.select({ r: WHERE.r, port: WHERE.port }).from(users).limit(1))[0]);
        onPrimary(
          (
            await relaxed
              .select({ r: WHERE.r, port: WHERE.port })
              .from(users)
              .limit(1)
              .for('update')
          )[0],
        );
      });
    } finally {
      relaxed.$router.close();
    }
  });

  it('counts and explains with the router', () => {
    const stats = db.$router.stats();
    expect(stats.primary.writes).toBeGreaterThan(0);
    expect(stats.replicas.reduce((n, r) => n + r.reads, 0)).toBeGreaterThan(0);
    expect(db.$router.explain(db.select().from(users).for('update').toSQL().sql).target).toBe(
      'primary',
    );
  });
});
