import type { Change } from '@koyo/dispatcher';
import { customType, integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { mood } from '../test/_kinds.js';
import { kinds } from '../test/_kinds.js';
import { KoyoDrizzleError } from './errors.js';
import {
  onTable,
  type ChangeSource,
  type DeleteChange,
  type InsertChange,
  type TableChange,
  type UpdateChange,
} from './on-table.js';

type Row = typeof kinds.$inferSelect;

/** Collects what onTable registers, and lets a test deliver dispatcher changes to it. */
function source(): ChangeSource & { names: string[]; deliver(change: Change): Promise<void> } {
  const handlers: ((change: Change) => void | Promise<void>)[] = [];
  const names: string[] = [];
  return {
    names,
    onTable(name, handler) {
      names.push(name);
      handlers.push(handler);
      return () => undefined;
    },
    async deliver(change) {
      for (const handler of handlers) await handler(change);
    },
  };
}

function change(
  kind: Change['kind'],
  row: Record<string, unknown> | null,
  old: Record<string, unknown> | null = null,
): Change {
  return {
    kind,
    schema: 'public',
    table: 'kinds',
    key: { id: 1 },
    id: 1,
    new: row,
    old,
    unchanged: [],
    commitLsn: '0/16B3748',
    position: 0,
    xid: 700,
    commitTime: '2024-05-01T10:00:00.123456Z',
  } as Change;
}

describe('onTable types', () => {
  it('types rows as the table’s $inferSelect, keyed by property names', () => {
    const d = source();
    onTable(d, kinds, (c) => {
      expectTypeOf(c).toEqualTypeOf<TableChange<Row>>();
      if (c.kind === 'insert' || c.kind === 'update') {
        expectTypeOf(c.new).toEqualTypeOf<Row>();
        expectTypeOf(c.new.createdAt).toEqualTypeOf<Date | null>();
        expectTypeOf(c.new.createdText).toEqualTypeOf<string | null>();
        expectTypeOf(c.new.updatedAt).toEqualTypeOf<Date | null>();
        expectTypeOf(c.new.birthday).toEqualTypeOf<Date | null>();
        expectTypeOf(c.new.birthdayText).toEqualTypeOf<string | null>();
        expectTypeOf(c.new.big).toEqualTypeOf<number | null>();
        expectTypeOf(c.new.bigExact).toEqualTypeOf<bigint | null>();
        expectTypeOf(c.new.amount).toEqualTypeOf<string | null>();
        expectTypeOf(c.new.meta).toEqualTypeOf<{ a: number; tags: string[] } | null>();
        expectTypeOf(c.new.doc).toEqualTypeOf<{ nested: { ok: boolean } } | null>();
        expectTypeOf(c.new.feeling).toEqualTypeOf<'sad' | 'ok' | 'happy' | null>();
        expectTypeOf(c.new.tags).toEqualTypeOf<string[] | null>();
        expectTypeOf(c.new.scores).toEqualTypeOf<number[] | null>();
        expectTypeOf(c.new.spot).toEqualTypeOf<{ x: number; y: number } | null>();
        expectTypeOf(c.new.spotTuple).toEqualTypeOf<[number, number] | null>();
        expectTypeOf(c.new.border).toEqualTypeOf<{ a: number; b: number; c: number } | null>();
        expectTypeOf(c.new.price).toEqualTypeOf<{ euros: number } | null>();
        expectTypeOf(c.new.blob).toEqualTypeOf<Buffer | null>();
        expectTypeOf(c.new.flag).toEqualTypeOf<boolean | null>();
        expectTypeOf(c.new.id).toEqualTypeOf<number>();
        expectTypeOf(c.unchanged).toEqualTypeOf<Extract<keyof Row, string>[]>();
        // @ts-expect-error column names are not properties of the row
        void c.new.created_at;
      }
      if (c.kind === 'delete') expectTypeOf(c.old).toEqualTypeOf<Partial<Row> | null>();
    });
    expectTypeOf<(typeof mood.enumValues)[number]>().toEqualTypeOf<'sad' | 'ok' | 'happy'>();
  });

  it('types per-kind handlers', () => {
    const d = source();
    onTable(d, kinds, {
      insert: (c) => {
        expectTypeOf(c).toEqualTypeOf<InsertChange<Row>>();
      },
      update: (c) => {
        expectTypeOf(c).toEqualTypeOf<UpdateChange<Row>>();
        expectTypeOf(c.old).toEqualTypeOf<Partial<Row> | null>();
      },
      delete: async (c) => {
        expectTypeOf(c).toEqualTypeOf<DeleteChange<Row>>();
        expectTypeOf(c.new).toEqualTypeOf<null>();
        await Promise.resolve();
      },
    });
    // @ts-expect-error not a change kind
    expect(() => onTable(d, kinds, { upsert: () => undefined })).toThrow(KoyoDrizzleError);
  });
});

describe('onTable at runtime (rows as a dispatcher parses them)', () => {
  it('registers the quoted schema-qualified table name', () => {
    const d = source();
    onTable(d, kinds, () => undefined);
    expect(d.names).toEqual(['"public"."kinds"']);
  });

  it('maps column names to properties and values through each column', async () => {
    const d = source();
    const seen: TableChange<Row>[] = [];
    onTable(d, kinds, (c) => void seen.push(c));
    await d.deliver(
      change('insert', {
        id: 1,
        big_exact: '42',
        created_at: new Date(Date.UTC(2024, 4, 1, 10, 20, 30, 123)),
        created_text: new Date(Date.UTC(2024, 4, 1, 10, 20, 30, 456)),
        price_cents: 1234,
        spot: { x: 1, y: 2 },
        spot_tuple: { x: 3, y: 4 },
        feeling: 'ok',
        not_in_schema: 'dropped',
      }),
    );
    expect(seen[0]!.new).toStrictEqual({
      id: 1,
      bigExact: 42n,
      createdAt: new Date(Date.UTC(2024, 4, 1, 10, 20, 30, 123)),
      createdText: expect.stringMatching(/^2024-05-01 \d\d:20:30\.456$/),
      price: { euros: 12.34 },
      spot: { x: 1, y: 2 },
      spotTuple: [3, 4],
      feeling: 'ok',
    });
    expect(seen[0]!.key).toStrictEqual({ id: 1 });
    expect(seen[0]!.id).toBe(1);
  });

  it('calls only the handler of the change’s kind', async () => {
    const d = source();
    const calls: string[] = [];
    onTable(d, kinds, { delete: (c) => void calls.push(`delete ${String(c.old?.id)}`) });
    await d.deliver(change('insert', { id: 1 }));
    await d.deliver(change('delete', null, { id: 1 }));
    expect(calls).toEqual(['delete 1']);
  });

  it("types and maps 'snapshot' like an insert; only the snapshot member of an object receives it", async () => {
    const d = source();
    const calls: string[] = [];
    onTable(d, kinds, { insert: () => void calls.push('insert') });
    onTable(d, kinds, {
      snapshot: (c) => void calls.push(`snapshot ${c.new.id} ${String(c.new.bigExact)}`),
    });
    await d.deliver(change('snapshot', { id: 7, big_exact: '42' }));
    expect(calls).toEqual(['snapshot 7 42']);
  });

  it('wraps a failing custom mapping in VALUE_MAPPING_FAILED', async () => {
    const d = source();
    const strict = customType<{ data: number; driverData: string }>({
      dataType: () => 'text',
      fromDriver: (value) => {
        if (!/^\d+$/.test(value)) throw new Error(`not digits: ${value}`);
        return Number(value);
      },
    });
    onTable(
      d,
      pgTable('kinds', { id: integer('id').primaryKey(), digits: strict('digits') }),
      () => undefined,
    );
    await expect(d.deliver(change('insert', { id: 1, digits: 'x1' }))).rejects.toMatchObject({
      code: 'VALUE_MAPPING_FAILED',
      cause: { message: 'not digits: x1' },
    });
  });

  it('rejects what it cannot use, saying what to pass', () => {
    const d = source();
    const users = pgTable('users', { id: serial('id').primaryKey(), name: text('name') });
    expect(() => onTable({} as ChangeSource, users, () => undefined)).toThrow(/dispatcher must be/);
    expect(() => onTable(d, {} as typeof users, () => undefined)).toThrow(
      /Drizzle PostgreSQL table/,
    );
    expect(() => onTable(d, users, {})).toThrow(/no insert, update, delete, truncate or snapshot/);
    expect(() => onTable(d, users, { insert: 1 as never })).toThrow(
      /handler.insert must be a function/,
    );
    expect(() => onTable(d, users, () => undefined, { casing: 'kebab' as never })).toThrow(
      /casing/,
    );
  });
});
