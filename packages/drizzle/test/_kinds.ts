import {
  bigint,
  boolean,
  char,
  cidr,
  customType,
  date,
  doublePrecision,
  inet,
  integer,
  interval,
  json,
  jsonb,
  line,
  macaddr,
  numeric,
  pgEnum,
  pgTable,
  point,
  real,
  smallint,
  text,
  time,
  timestamp,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

export const mood = pgEnum('mood', ['sad', 'ok', 'happy']);

/** A custom type with its own driver mapping: cents in the database, `{ euros }` in the app. */
export const money = customType<{ data: { euros: number }; driverData: number }>({
  dataType: () => 'integer',
  toDriver: (value) => Math.round(value.euros * 100),
  fromDriver: (value) => ({ euros: Number(value) / 100 }),
});

export const bytes = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** One column of each kind (the property names differ from the column names on purpose). */
export const kinds = pgTable('kinds', {
  id: integer('id').primaryKey(),
  small: smallint('small_col'),
  big: bigint('big_col', { mode: 'number' }),
  bigExact: bigint('big_exact', { mode: 'bigint' }),
  flag: boolean('flag'),
  label: text('label'),
  code: varchar('code', { length: 10 }),
  initial: char('initial', { length: 1 }),
  amount: numeric('amount', { precision: 10, scale: 2 }),
  ratio: real('ratio'),
  precise: doublePrecision('precise'),
  meta: json('meta').$type<{ a: number; tags: string[] }>(),
  doc: jsonb('doc').$type<{ nested: { ok: boolean } }>(),
  uid: uuid('uid'),
  createdAt: timestamp('created_at', { mode: 'date' }),
  createdText: timestamp('created_text', { mode: 'string' }),
  updatedAt: timestamp('updated_at', { mode: 'date', withTimezone: true }),
  updatedText: timestamp('updated_text', { mode: 'string', withTimezone: true }),
  birthday: date('birthday', { mode: 'date' }),
  birthdayText: date('birthday_text', { mode: 'string' }),
  alarm: time('alarm'),
  wait: interval('wait'),
  feeling: mood('feeling'),
  tags: text('tags').array(),
  scores: integer('scores').array(),
  seen: timestamp('seen', { mode: 'string', withTimezone: true }).array(),
  prices: numeric('prices').array(),
  ip: inet('ip'),
  net: cidr('net'),
  mac: macaddr('mac'),
  spot: point('spot', { mode: 'xy' }),
  spotTuple: point('spot_tuple', { mode: 'tuple' }),
  border: line('border', { mode: 'abc' }),
  price: money('price_cents'),
  blob: bytes('blob'),
});

export const KINDS_DDL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE kinds (
  id int PRIMARY KEY, small_col smallint, big_col bigint, big_exact bigint, flag boolean, label text,
  code varchar(10), initial char(1), amount numeric(10, 2), ratio real, precise double precision,
  meta json, doc jsonb, uid uuid, created_at timestamp, created_text timestamp,
  updated_at timestamptz, updated_text timestamptz, birthday date, birthday_text date, alarm time,
  wait interval, feeling mood, tags text[], scores int[], seen timestamptz[], prices numeric[],
  ip inet, net cidr, mac macaddr, spot point, spot_tuple point, border line, price_cents int, blob bytea
);
`;

/** A row using every kind; timestamps to the millisecond (exact without drizzleTypeParsers). */
export function sampleRow(id: number): typeof kinds.$inferInsert {
  return {
    id,
    small: 7,
    big: 9_007_199_254_740_000,
    bigExact: 9_223_372_036_854_775_807n,
    flag: true,
    label: 'héllo "world"',
    code: 'ABC',
    initial: 'Z',
    amount: '1234.50',
    ratio: 0.5,
    precise: 3.141592653589793,
    meta: { a: 1, tags: ['x', 'y'] },
    doc: { nested: { ok: true } },
    uid: '6f1c2a9e-3d4b-4c5d-8e9f-0a1b2c3d4e5f',
    createdAt: new Date('2024-05-01T10:20:30.123Z'),
    createdText: '2024-05-01 10:20:30.456',
    updatedAt: new Date('2023-12-31T23:59:59.999Z'),
    updatedText: '2024-02-29 12:00:00.789+00',
    birthday: new Date('1990-07-15'),
    birthdayText: '2000-01-01',
    alarm: '07:30:00',
    wait: '1 day 02:03:04.5',
    feeling: 'happy',
    tags: ['a', 'b,c', 'd"e'],
    scores: [1, 2, 3],
    seen: ['2024-01-01 00:00:00.5+00', '2024-06-30 23:59:59+00'],
    prices: ['1.25', '2.5'],
    ip: '192.168.0.1',
    net: '10.0.0.0/8',
    mac: '08:00:2b:01:02:03',
    spot: { x: 1.5, y: -2 },
    spotTuple: [3, 4],
    border: { a: 1, b: -1, c: 0 },
    price: { euros: 12.34 },
    blob: Buffer.from([0, 1, 2, 255]),
  };
}

/** Microseconds and `numeric[]` scales, which only `drizzleTypeParsers` keep exact. */
export const MICROS = {
  prices: ['1.10', '2.000'],
  createdText: '2024-05-01 10:20:30.123456',
  updatedText: '2024-02-29 12:00:00.654321+00',
  seen: ['2024-01-01 00:00:00.000001+00'],
};
