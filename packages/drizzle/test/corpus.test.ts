/**
 * The router's misrouting corpus, written with Drizzle's builders: statements that look like
 * reads but must run on the primary, and reads that must not be sent there for the wrong reason.
 * Each entry returns `pg_is_in_recovery()` from the server that ran it.
 */
import { blockTransactions, skipTransactions } from '@koyo/router';
import { eq, sql } from 'drizzle-orm';
import { union, unionAll } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import type { RoutedDatabase } from '../src/index.js';
import { type AnyDb, DRIVERS, recorder, rowsOf, useRoutedSchemaDb } from './_helpers.js';
import { posts, users, WHERE } from './_schema.js';

type Entry = readonly [
  name: string,
  where: 'replica' | 'primary',
  run: (db: RoutedDatabase<AnyDb>) => Promise<{ r: boolean } | undefined>,
];

const first = async <T>(rows: Promise<T[]>): Promise<T | undefined> => (await rows)[0];

const CORPUS: readonly Entry[] = [
  [
    'select with a join',
    'replica',
    (db) =>
      first(db.select({ r: WHERE.r }).from(users).innerJoin(posts, eq(posts.userId, users.id))),
  ],
  [
    'select with a scalar subquery',
    'replica',
    (db) => first(db.select({ r: WHERE.r, n: sql`(select count(*) from ${posts})` }).from(users)),
  ],
  [
    'select with a string that says FOR UPDATE',
    'replica',
    (db) => first(db.select({ r: WHERE.r, s: sql`'for update; delete from users'` }).from(users)),
  ],
  [
    'union of selects',
    'replica',
    (db) =>
      first(union(db.select({ r: WHERE.r }).from(users), db.select({ r: WHERE.r }).from(posts))),
  ],
  [
    'union all of selects',
    'replica',
    (db) =>
      first(unionAll(db.select({ r: WHERE.r }).from(users), db.select({ r: WHERE.r }).from(posts))),
  ],
  [
    'select from a read-only CTE',
    'replica',
    (db) => {
      const sq = db.$with('sq').as(db.select({ id: users.id }).from(users));
      return first(db.with(sq).select({ r: WHERE.r }).from(sq));
    },
  ],
  [
    'select ... for update',
    'primary',
    (db) => first(db.select({ r: WHERE.r }).from(users).where(eq(users.id, 1)).for('update')),
  ],
  [
    'select ... for no key update',
    'primary',
    (db) =>
      first(db.select({ r: WHERE.r }).from(users).where(eq(users.id, 1)).for('no key update')),
  ],
  [
    'select ... for share of a table',
    'primary',
    (db) =>
      first(
        db.select({ r: WHERE.r }).from(users).where(eq(users.id, 1)).for('share', { of: users }),
      ),
  ],
  [
    'select ... for key share nowait',
    'primary',
    (db) =>
      first(
        db
          .select({ r: WHERE.r })
          .from(users)
          .where(eq(users.id, 1))
          .for('key share', { noWait: true }),
      ),
  ],
  [
    'select calling nextval()',
    'primary',
    (db) =>
      first(
        db
          .select({ r: WHERE.r, n: sql`nextval('users_id_seq')` })
          .from(users)
          .limit(1),
      ),
  ],
  [
    'select calling set_config()',
    'primary',
    (db) =>
      first(
        db
          .select({ r: WHERE.r, c: sql`set_config('koyo.x', '1', false)` })
          .from(users)
          .limit(1),
      ),
  ],
  [
    'select taking an advisory lock',
    'primary',
    (db) =>
      first(
        db
          .select({ r: WHERE.r, l: sql`pg_try_advisory_xact_lock(42)` })
          .from(users)
          .limit(1),
      ),
  ],
  [
    'writable CTE (update) under a select',
    'primary',
    (db) => {
      const touched = db.$with('touched').as(
        db
          .update(users)
          .set({ name: sql`${users.name}` })
          .where(eq(users.id, 1))
          .returning({ id: users.id }),
      );
      return first(db.with(touched).select({ r: WHERE.r }).from(touched));
    },
  ],
  [
    'writable CTE (delete) under a select',
    'primary',
    (db) => {
      const gone = db
        .$with('gone')
        .as(db.delete(posts).where(eq(posts.id, -1)).returning({ id: posts.id }));
      return first(
        db
          .with(gone)
          .select({ r: WHERE.r, n: sql`(select count(*) from gone)` })
          .from(users)
          .limit(1),
      );
    },
  ],
  [
    'insert ... on conflict do update',
    'primary',
    (db) =>
      first(
        db
          .insert(users)
          .values({ id: 1, name: 'ada' })
          .onConflictDoUpdate({ target: users.id, set: { name: 'ada' } })
          .returning({ r: WHERE.r }),
      ),
  ],
  [
    'insert ... select',
    'primary',
    async (db) => {
      await db.insert(posts).select(
        db
          .select({
            id: sql<number>`-${users.id}`.as('id'),
            userId: users.id,
            title: sql<string>`'copied'`.as('title'),
          })
          .from(users)
          .where(eq(users.id, 3)),
      );
      return first(db.delete(posts).where(eq(posts.title, 'copied')).returning({ r: WHERE.r }));
    },
  ],
  [
    'update ... from',
    'primary',
    (db) =>
      first(
        db
          .update(users)
          .set({ name: sql`${users.name}` })
          .from(posts)
          .where(eq(posts.userId, users.id))
          .returning({ r: WHERE.r }),
      ),
  ],
  [
    'execute: select',
    'replica',
    async (db) => rowsOf<{ r: boolean }>(await db.execute(sql`select pg_is_in_recovery() as r`))[0],
  ],
  [
    'execute: set a session setting',
    'primary',
    async (db) => {
      await db.execute(sql`set application_name = 'koyo'`);
      return { r: db.$router.explain("set application_name = 'koyo'").target !== 'primary' };
    },
  ],
  [
    'execute: call of a volatile function',
    'primary',
    async (db) =>
      rowsOf<{ r: boolean }>(
        await db.execute(sql`select pg_is_in_recovery() as r, pg_notify('koyo', 'x')`),
      )[0],
  ],
  [
    'execute: explain analyze of a delete',
    'primary',
    async (db) => {
      await db.execute(sql`explain analyze delete from posts where id = -1`);
      return {
        r:
          db.$router.explain('explain analyze delete from posts where id = -1').target !==
          'primary',
      };
    },
  ],
];

describe.each(DRIVERS)(
  'the misrouting corpus through Drizzle builders (drizzle-orm/%s)',
  (driver) => {
    let db: RoutedDatabase<AnyDb>;
    const log = recorder();

    useRoutedSchemaDb(driver, 'drz_corpus', log, (routed) => (db = routed.db));

    it.each(CORPUS)('%s -> %s', async (_name, where, run) => {
      const before = log.queries().length;
      const row = await run(db);
      expect(row?.r).toBe(where === 'replica');
      const ran = log.queries().slice(before);
      expect(ran.length).toBeGreaterThan(0);
      expect(ran.every((e) => e.role === where)).toBe(true);
    });

    it('blockTransactions refuses db.transaction, skipTransactions runs it without BEGIN', async () => {
      await expect(
        blockTransactions(() => db.transaction(async () => undefined)),
      ).rejects.toMatchObject({ code: 'TRANSACTION_BLOCKED' });
      const row = await skipTransactions(() =>
        db.transaction(async (tx) => (await tx.select({ r: WHERE.r }).from(users).limit(1))[0]),
      );
      expect(row).toEqual({ r: true });
    });
  },
);
