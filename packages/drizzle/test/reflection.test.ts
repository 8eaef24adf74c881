import { entityKind, eq, is, sql } from 'drizzle-orm';
import { PgSession } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import type { RoutedDatabase } from '../src/index.js';
import {
  type AnyDb,
  DRIVERS,
  type Nodes,
  recorder,
  rowsOf,
  useRoutedSchemaDb,
} from './_helpers.js';
import { userCount, users, WHERE } from './_schema.js';

type Where = { r: boolean } | undefined;

/**
 * Every public method of a Drizzle database, with a call that runs SQL through it and where that
 * SQL must run. A method Drizzle adds later is missing here, and the first test fails until it is
 * added (and its routing checked).
 */
const METHODS: Record<
  string,
  { expect: 'replica' | 'primary'; run: (db: RoutedDatabase<AnyDb>) => Promise<Where> }
> = {
  select: {
    expect: 'replica',
    run: async (db) => (await db.select({ r: WHERE.r }).from(users).limit(1))[0],
  },
  selectDistinct: {
    expect: 'replica',
    run: async (db) => (await db.selectDistinct({ r: WHERE.r }).from(users))[0],
  },
  selectDistinctOn: {
    expect: 'replica',
    run: async (db) =>
      (await db.selectDistinctOn([users.id], { r: WHERE.r, id: users.id }).from(users))[0],
  },
  $count: {
    expect: 'replica',
    run: async (db) => ({ r: (await db.$count(users, sql`pg_is_in_recovery()`)) > 0 }),
  },
  $with: {
    expect: 'replica',
    run: async (db) => {
      const sq = db.$with('sq').as(db.select({ r: WHERE.r }).from(users).limit(1));
      return (await db.with(sq).select().from(sq))[0];
    },
  },
  with: {
    expect: 'primary',
    run: async (db) => {
      const sq = db.$with('sq').as(db.select({ id: users.id }).from(users).limit(1));
      return (
        await db
          .with(sq)
          .update(users)
          .set({ name: sql`${users.name}` })
          .where(eq(users.id, sql`(select id from sq)`))
          .returning({ r: WHERE.r })
      )[0];
    },
  },
  update: {
    expect: 'primary',
    run: async (db) =>
      (
        await db
          .update(users)
          .set({ name: sql`${users.name}` })
          .where(eq(users.id, 1))
          .returning({ r: WHERE.r })
      )[0],
  },
  insert: {
    expect: 'primary',
    run: async (db) => {
      const [row] = await db
        .insert(users)
        .values({ name: 'reflect' })
        .returning({ r: WHERE.r, id: users.id });
      await db.delete(users).where(eq(users.id, row!.id));
      return row;
    },
  },
  delete: {
    expect: 'primary',
    run: async (db) =>
      (await db.delete(users).where(eq(users.name, 'nobody')).returning({ r: WHERE.r }))[0] ?? {
        r:
          rowsOf<{ r: boolean }>(
            await db.execute(sql`delete from users where false returning true as r`),
          )[0]?.r ?? false,
      },
  },
  refreshMaterializedView: {
    expect: 'primary',
    // A hot standby refuses REFRESH: success is proof, and the router's log says where.
    run: async (db) => {
      await db.refreshMaterializedView(userCount);
      return { r: false };
    },
  },
  execute: {
    expect: 'replica',
    run: async (db) =>
      rowsOf<{ r: boolean }>(await db.execute(sql`select pg_is_in_recovery() as r`))[0],
  },
  transaction: {
    expect: 'primary',
    run: (db) =>
      db.transaction(async () => (await db.select({ r: WHERE.r }).from(users).limit(1))[0]),
  },
};

function publicMethods(target: object): string[] {
  const names = new Set<string>();
  for (
    let o: object | null = target;
    o !== null && o !== Object.prototype;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    for (const key of Reflect.ownKeys(o)) {
      // `$client` is the primary's driver client, documented as a raw handle (as `$primary`).
      if (
        typeof key !== 'string' ||
        key === 'constructor' ||
        key === '$client' ||
        key.startsWith('_')
      )
        continue;
      if (typeof (target as Record<string, unknown>)[key] === 'function') names.add(key);
    }
  }
  return [...names].sort();
}

/** Every PgSession reachable from `root` through own properties (a few levels deep). */
function reachableSessions(root: unknown, depth = 4, seen = new Set<unknown>()): Set<PgSession> {
  const found = new Set<PgSession>();
  const walk = (value: unknown, level: number): void => {
    if (value === null || typeof value !== 'object' || seen.has(value) || level > depth) return;
    seen.add(value);
    if (is(value, PgSession)) found.add(value as PgSession);
    for (const key of Reflect.ownKeys(value)) {
      // own accessors included: the routed db's `session` is a getter
      if (key === '$primary' || key === '$replicas' || key === '$router' || key === '$client')
        continue;
      walk((value as Record<PropertyKey, unknown>)[key], level + 1);
    }
  };
  walk(root, 0);
  return found;
}

describe.each(DRIVERS)('every public method of a drizzle-orm/%s database routes', (driver) => {
  let nodes: Nodes;
  let db: RoutedDatabase<AnyDb>;
  const log = recorder();

  useRoutedSchemaDb(driver, 'drz_reflect', log, (routed) => ({ nodes, db } = routed));

  it('the list of checked methods is exactly Drizzle’s public methods', () => {
    expect(publicMethods(db)).toEqual(Object.keys(METHODS).sort());
    expect(publicMethods(nodes.primary)).toEqual(Object.keys(METHODS).sort());
  });

  it('every session reachable from the routed db (query builders included) is a routing session', () => {
    const sessions = [...reachableSessions(db)];
    expect(sessions.length).toBeGreaterThan(1); // db.session, db._.session, each db.query.* builder's
    for (const session of sessions)
      expect((session.constructor as unknown as Record<symbol, unknown>)[entityKind]).toBe(
        'KoyoRoutingSession',
      );
    expect(sessions).not.toContain(
      (nodes.primary as unknown as { _: { session: unknown } })._.session,
    );
  });

  it.each(Object.keys(METHODS))('%s runs where its SQL belongs', async (name) => {
    const method = METHODS[name]!;
    const before = log.queries().length;
    const row = await method.run(db);
    expect(row?.r).toBe(method.expect === 'replica');
    const ran = log.queries().slice(before);
    expect(ran.length).toBeGreaterThan(0);
    if (method.expect === 'primary') expect(ran.every((e) => e.role === 'primary')).toBe(true);
    else expect(ran.some((e) => e.role === 'replica')).toBe(true);
  });

  it('the methods of a transaction run in it', async () => {
    const txMethods = await db.transaction(async (tx) => {
      const pid = rowsOf<{ pid: number }>(await tx.execute(sql`select pg_backend_pid() as pid`))[0]!
        .pid;
      const seen = [
        (await tx.select({ pid: WHERE.pid }).from(users).limit(1))[0]?.pid,
        (await tx.selectDistinct({ pid: WHERE.pid }).from(users))[0]?.pid,
        (await tx.query.users.findFirst({ extras: { pid: WHERE.pid } }))?.pid,
        (await db.select({ pid: WHERE.pid }).from(users).limit(1))[0]?.pid,
      ];
      expect(seen).toEqual([pid, pid, pid, pid]);
      return publicMethods(tx);
    });
    expect(txMethods).toEqual(
      [...Object.keys(METHODS), 'getTransactionConfigSQL', 'rollback', 'setTransaction'].sort(),
    );
  });
});
