import { createDispatcher, type Dispatcher } from '@koyo/dispatcher';
import { createTestDatabase } from '@koyo/testing/vitest';
import { eq, sql } from 'drizzle-orm';
import { pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drizzleTypeParsers, onTable, type TableChange } from '../src/changes.js';
import { DRIVERS, openDb, queryUrl, type AnyDb, type DriverName } from './_helpers.js';
import { kinds, KINDS_DDL, MICROS, sampleRow } from './_kinds.js';

let counter = 0;
const unique = (prefix: string): string =>
  `${prefix}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 6)}`;

/** Declared without column names: stored as snake_case with `casing: 'snake_case'`. */
const people = pgTable('people', {
  id: serial().primaryKey(),
  fullName: text().notNull(),
  signedUpAt: timestamp({ mode: 'date', withTimezone: true }).notNull(),
});

let url: string;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const test = await createTestDatabase('drz_on_table');
  url = test.url;
  await queryUrl(
    url,
    `${KINDS_DDL}; CREATE TABLE people (id serial PRIMARY KEY, full_name text NOT NULL, signed_up_at timestamptz NOT NULL); ALTER TABLE people REPLICA IDENTITY FULL;`,
  );
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
});

async function startDispatcher(
  register: (dispatcher: Dispatcher) => void,
  exact: boolean,
): Promise<Dispatcher> {
  const slot = unique('drz_slot');
  const dispatcher = createDispatcher({
    connection: url,
    slot,
    publication: unique('drz_pub'),
    tables: ['kinds', 'people'],
    logger: false,
    statusIntervalMs: 200,
    ...(exact ? { typeParsers: drizzleTypeParsers } : {}),
  });
  register(dispatcher);
  await dispatcher.start();
  cleanup.push(async () => {
    await dispatcher.stop();
    await queryUrl(url, 'SELECT pg_drop_replication_slot($1)', [slot]);
  });
  return dispatcher;
}

function open(driver: DriverName, casing?: 'snake_case'): AnyDb {
  const { db, close } = openDb(driver, url, casing);
  cleanup.push(close);
  return db;
}

describe.each(DRIVERS)('onTable rows equal db.select() rows (drizzle-orm/%s)', (driver) => {
  const base = driver === 'node-postgres' ? 100 : 200;

  it.each([false, true])(
    'every column kind, insert/update/delete (drizzleTypeParsers: %s)',
    async (exact) => {
      const db = open(driver);
      const changes: TableChange<typeof kinds.$inferSelect>[] = [];
      const raw: Record<string, unknown>[] = [];
      const dispatcher = await startDispatcher((d) => {
        onTable(d, kinds, (change) => void changes.push(change));
        d.onTable('kinds', (change) => void raw.push(change.new ?? {}));
      }, exact);
      const id = base + (exact ? 1 : 0);
      const values = exact ? { ...sampleRow(id), ...MICROS } : sampleRow(id);
      await db.insert(kinds).values(values);
      const [inserted] = await db.select().from(kinds).where(eq(kinds.id, id));
      await db
        .update(kinds)
        .set({ label: 'changed', doc: { nested: { ok: false } } })
        .where(eq(kinds.id, id));
      const [updated] = await db.select().from(kinds).where(eq(kinds.id, id));
      await db.delete(kinds).where(eq(kinds.id, id));
      await dispatcher.drain();

      const mine = changes.filter((c) => c.id === id);
      expect(mine.map((c) => c.kind)).toEqual(['insert', 'update', 'delete']);
      const [insert, update, del] = mine;
      expect(insert!.new).toStrictEqual(inserted);
      expect(update!.new).toStrictEqual(updated);
      expect(del!.old).toStrictEqual({ id });
      expect(insert!.key).toStrictEqual({ id });
      expect(insert!.table).toBe('kinds');
      // The kinds that need Drizzle's own mapping, spelled out:
      expect(insert!.new!.createdAt).toBeInstanceOf(Date);
      expect(insert!.new!.bigExact).toBe(9_223_372_036_854_775_807n);
      expect(insert!.new!.price).toEqual({ euros: 12.34 });
      expect(insert!.new!.spot).toEqual({ x: 1.5, y: -2 });
      if (exact) expect(insert!.new!.createdText).toBe(MICROS.createdText);
      // What the dispatcher itself delivers is not the Drizzle row: the mapping does the work.
      expect(raw[0]).not.toStrictEqual(inserted);
      expect(Object.keys(raw[0]!)).toContain('price_cents');
      expect(raw[0]!['price_cents']).toBe(1234);
    },
  );

  it('columns named by casing: snake_case, and per-kind handlers', async () => {
    const db = open(driver, 'snake_case');
    const inserts: (typeof people.$inferSelect)[] = [];
    const deletes: unknown[] = [];
    const truncates: string[] = [];
    const updates: { old: unknown; new: unknown }[] = [];
    const dispatcher = await startDispatcher(
      (d) =>
        onTable(
          d,
          people,
          {
            insert: (change) => void inserts.push(change.new),
            update: (change) => void updates.push({ old: change.old, new: change.new }),
            delete: (change) => void deletes.push(change.old),
            truncate: (change) => void truncates.push(`${change.schema}.${change.table}`),
          },
          { casing: 'snake_case' },
        ),
      false,
    );
    const [row] = await db
      .insert(people)
      .values({ fullName: `Ada ${driver}`, signedUpAt: new Date('2024-01-02T03:04:05.678Z') })
      .returning();
    await db.update(people).set({ fullName: 'Grace' }).where(eq(people.id, row!.id));
    const [after] = await db.select().from(people).where(eq(people.id, row!.id));
    await db.delete(people).where(eq(people.id, row!.id));
    await db.execute(sql`truncate ${people}`);
    await dispatcher.drain();
    expect(inserts).toEqual([
      { id: row!.id, fullName: `Ada ${driver}`, signedUpAt: new Date('2024-01-02T03:04:05.678Z') },
    ]);
    // REPLICA IDENTITY FULL: old rows are whole, mapped like new ones.
    expect(updates).toEqual([{ old: row, new: after }]);
    expect(deletes).toEqual([after]);
    expect(truncates).toEqual(['public.people']);
  });
});
