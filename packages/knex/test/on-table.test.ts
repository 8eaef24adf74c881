import { createDispatcher, type Change, type Dispatcher } from '@koyo/dispatcher';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onTable } from '../src/changes.js';
import { readFromPrimary, routedKnex, type RoutedKnex } from '../src/index.js';
import { queryUrl, until } from './_helpers.js';

let db: TestDatabase;
let knex: RoutedKnex;
let camel: RoutedKnex;
const slots: string[] = [];
const dispatchers: Dispatcher[] = [];

const KINDS = `
CREATE TABLE kinds (
  id int PRIMARY KEY,
  big bigint,
  small smallint,
  num numeric(12,3),
  f4 real,
  f8 double precision,
  txt text,
  vc varchar(20),
  ch char(3),
  flag boolean,
  d date,
  ts timestamp,
  tstz timestamptz,
  tm time,
  iv interval,
  js json,
  jsb jsonb,
  u uuid,
  by bytea,
  ints int[],
  txts text[],
  ip inet,
  pt point,
  mny money,
  created_at timestamptz NOT NULL DEFAULT now()
)`;

function dispatcherFor(table: string): Dispatcher {
  const name = `knex_${process.pid}_${slots.length}_${Math.random().toString(36).slice(2, 6)}`;
  slots.push(name);
  const d = createDispatcher({
    connection: db.url,
    slot: name,
    publication: name,
    tables: [table],
    logger: false,
    statusIntervalMs: 200,
  });
  dispatchers.push(d);
  return d;
}

const camelize = (row: unknown): unknown => {
  if (Array.isArray(row)) return row.map(camelize);
  if (row === null || typeof row !== 'object' || row instanceof Date || Buffer.isBuffer(row))
    return row;
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()),
      v,
    ]),
  );
};

beforeAll(async () => {
  db = await createTestDatabase('knex_on_table');
  await queryUrl(db.url, KINDS);
  knex = routedKnex({
    primary: { client: 'pg', connection: db.url, pool: { min: 0, max: 2 } },
    replicas: db.replicaUrls.map((url) => ({ connection: url })),
  });
  camel = routedKnex({
    primary: {
      client: 'pg',
      connection: db.url,
      pool: { min: 0, max: 2 },
      postProcessResponse: camelize,
    },
    replicas: [],
  });
});
afterAll(async () => {
  for (const d of dispatchers) await d.stop().catch(() => undefined);
  await knex?.destroy();
  await camel?.destroy();
  for (const slot of slots) {
    await until(
      async () =>
        (
          await queryUrl<{ active: boolean }>(
            db.url,
            'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
            [slot],
          )
        )[0]?.active !== true,
      `slot ${slot} released`,
    );
    await queryUrl(
      db.url,
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
  }
  await db?.drop();
});

const row = (id: number) => ({
  id,
  big: '9007199254740993',
  small: -7,
  num: '12345.678',
  f4: 1.5,
  f8: 3.141592653589793,
  txt: `text ${id} with 'quotes' and ünïcödé`,
  vc: 'varchar',
  ch: 'ab',
  flag: true,
  d: '2024-02-29',
  ts: '2024-05-01 10:00:00.123456',
  tstz: '2024-05-01T10:00:00.123Z',
  tm: '23:59:59.5',
  iv: '1 year 2 mons 3 days 04:05:06',
  js: JSON.stringify({ a: [1, 2, { b: null }] }),
  jsb: { nested: { deep: [true, 1.25, 'x'] } },
  u: '3f333df6-90a4-4fda-8dd3-9485d27cee36',
  by: Buffer.from([0, 1, 2, 253, 254, 255]),
  ints: [1, 2, 3],
  txts: ['a', 'b,c', 'd"e', null],
  ip: '192.168.0.1/24',
  pt: '(1.5,2)',
  mny: '12.34',
});

describe('onTable', () => {
  it('delivers rows that equal what Knex returns for a select, for a table of varied types', async () => {
    const d = dispatcherFor('kinds');
    const seen: Change[] = [];
    onTable(d, 'kinds', (change) => {
      seen.push(change);
    });
    await d.start();
    await knex('kinds').insert(row(1));
    await knex('kinds').insert({ id: 2 }); // NULLs everywhere but the defaults
    await knex('kinds')
      .where({ id: 1 })
      .update({ txt: 'changed', jsb: { x: 1 }, ints: [9] });
    await d.drain();
    expect(seen.map((c) => c.kind)).toEqual(['insert', 'insert', 'update']);
    const firstInsert = seen[0]!.new!;
    // What the app would have read right after the insert (the update came later): compare the
    // update's row with the current row, and the insert's with the current row minus the update.
    const current1 = await readFromPrimary(() => knex('kinds').where({ id: 1 }).first());
    const current2 = await readFromPrimary(() => knex('kinds').where({ id: 2 }).first());
    expect(seen[2]!.new).toEqual(current1);
    expect(seen[1]!.new).toEqual(current2);
    expect({ ...firstInsert, txt: 'changed', jsb: { x: 1 }, ints: [9] }).toEqual(current1);
    // Spot checks of the parsing, so a mismatch on both sides would not go unnoticed.
    expect(current1.big).toBe('9007199254740993');
    expect(current1.tstz).toBeInstanceOf(Date);
    expect(Buffer.isBuffer(current1.by)).toBe(true);
    expect(current1.pt).toEqual({ x: 1.5, y: 2 });
    expect(current1.iv).toMatchObject({ years: 1, months: 2, days: 3, hours: 4 });
    expect(seen[2]!.id).toBe(1);
    await d.stop();
  });

  it('takes per-kind handlers and applies the Knex instance postProcessResponse', async () => {
    const d = dispatcherFor('public.kinds');
    const inserts: Change[] = [];
    const deletes: Change[] = [];
    onTable(
      d,
      'public.kinds',
      { insert: (c) => void inserts.push(c), delete: (c) => void deletes.push(c) },
      { knex: camel },
    );
    await d.start();
    await camel('kinds').insert({ id: 3, txt: 'camel' });
    await camel('kinds').where({ id: 3 }).del();
    await d.drain();
    expect(inserts).toHaveLength(1);
    expect(deletes).toHaveLength(1);
    await camel('kinds').insert({ id: 4, txt: 'again' });
    await d.drain();
    const read = await camel('kinds').where({ id: 4 }).first();
    expect(Object.keys(read)).toContain('createdAt');
    expect(inserts[1]!.new).toEqual(read);
    expect(deletes[0]!.old).toEqual({ id: 3 });
    await d.stop();
  });

  it('passes backfilled rows to the snapshot handler, equal to what Knex reads', async () => {
    await camel('kinds').insert({ id: 5, txt: 'existing' });
    const d = dispatcherFor('public.kinds');
    const snapshots: Change[] = [];
    let inserts = 0;
    onTable(
      d,
      'public.kinds',
      { snapshot: (c) => void snapshots.push(c), insert: () => void inserts++ },
      { knex: camel },
    );
    await d.start();
    await d.backfill();
    await d.stop();
    const rows = await camel('kinds').orderBy('id');
    expect(snapshots.map((c) => c.new)).toEqual(rows);
    expect(snapshots.every((c) => c.kind === 'snapshot')).toBe(true);
    expect(inserts).toBe(0);
  });

  it('checks its arguments', () => {
    expect(() => onTable({} as Dispatcher, 'kinds', () => undefined)).toThrow(/dispatcher/);
    expect(() => onTable(dispatcherFor('kinds'), '', () => undefined)).toThrow(/table name/);
    expect(() => onTable(dispatcherFor('kinds'), 'kinds', {})).toThrow(/handler/);
  });
});
