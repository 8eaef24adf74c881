// Value fidelity: a decoded row deep-equals the row `pg` returns from SELECT of the same row,
// in text and binary mode, for 40 column types and their edge values.
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyTextRowDecoder, type InsertMessage, type RelationMessage } from '../src/index.js';
import {
  connect,
  copyOut,
  createSlot,
  decodeAll,
  dropSlot,
  peek,
  type Captured,
} from './_support.js';

// Local-time types (date, timestamp) are parsed in the process's zone: pick one with DST.
process.env.TZ = 'America/New_York';

const COLUMNS: [name: string, type: string][] = [
  ['c_bool', 'bool'],
  ['c_int2', 'int2'],
  ['c_int4', 'int4'],
  ['c_int8', 'int8'],
  ['c_float4', 'float4'],
  ['c_float8', 'float8'],
  ['c_numeric', 'numeric'],
  ['c_money', 'money'],
  ['c_oid', 'oid'],
  ['c_text', 'text'],
  ['c_varchar', 'varchar(20)'],
  ['c_char', 'char(5)'],
  ['c_qchar', '"char"'],
  ['c_name', 'name'],
  ['c_bytea', 'bytea'],
  ['c_uuid', 'uuid'],
  ['c_json', 'json'],
  ['c_jsonb', 'jsonb'],
  ['c_date', 'date'],
  ['c_time', 'time'],
  ['c_timetz', 'timetz'],
  ['c_timestamp', 'timestamp'],
  ['c_timestamptz', 'timestamptz'],
  ['c_interval', 'interval'],
  ['c_inet', 'inet'],
  ['c_cidr', 'cidr'],
  ['c_macaddr', 'macaddr'],
  ['c_point', 'point'],
  ['c_circle', 'circle'],
  ['c_int4_arr', 'int4[]'],
  ['c_int4_2d', 'int4[]'],
  ['c_int8_arr', 'int8[]'],
  ['c_text_arr', 'text[]'],
  ['c_float8_arr', 'float8[]'],
  ['c_bool_arr', 'bool[]'],
  ['c_numeric_arr', 'numeric[]'],
  ['c_tstz_arr', 'timestamptz[]'],
  ['c_jsonb_arr', 'jsonb[]'],
  ['c_uuid_arr', 'uuid[]'],
  ['c_enum', 'feeling'],
  ['c_int4range', 'int4range'],
  ['c_tstzrange', 'tstzrange'],
  ['c_bit', 'bit(4)'],
  ['c_varbit', 'varbit'],
  ['c_tsvector', 'tsvector'],
];

const ROWS: string[] = [
  // typical values
  `(1, true, 12, 123456, 9007199254740993, 1.5, 3.141592653589793, 123.4500, 12.34, 4000000000, 'hello', 'var', 'ab', 'x', 'nm',
    '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, "x"], "b": null}', '{"b": {"c": true}, "a": 1}',
    '2024-03-10', '13:45:30.123456', '13:45:30+05:30', '2024-03-10 02:30:00.5', '2024-06-01 12:34:56.789012+02',
    '1 year 2 mons 3 days 04:05:06.789', '192.168.1.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '(1.5,-2)', '<(1,2),3>',
    '{1,NULL,3}', '{{1,2},{3,4}}', '{-9223372036854775808,9223372036854775807}', '{"a b","c,d",NULL,"\\"q\\"",""}',
    '{1.5,NaN,Infinity}', '{t,f,NULL}', '{1.10,NaN}', '{"2024-01-01 00:00:00+00",infinity}', '{"{\\"k\\": 1}",null}',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', 'happy', '[1,10)', '["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")',
    B'1010', B'101', 'a fat cat:2 sat')`,
  // edge values
  `(2, false, -32768, -2147483648, -9223372036854775808, 'NaN', 'Infinity', 'NaN', -92233720368547758.08, 0,
    E'unicode \u00e9\u4e2d\ud83d\ude00 tab\\t nl\\n cr\\r bell\\x07 backslash\\\\ quote'' "dq"', '', 'a   ', '\\001', '',
    '\\x', '00000000-0000-0000-0000-000000000000', '"just a string"', '[]',
    '-infinity', '24:00:00', '00:00:00-14:59', 'infinity', '-infinity',
    '-178000000 years', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '(0,0)', '<(0,0),0>',
    '{}', '{{NULL,2},{3,NULL}}', '{0}', '{NULL}', '{-Infinity,-0}', '{}', '{}', '{}', '{}',
    '{}', 'sad', 'empty', '(,)', B'0000', B'', '')`,
  `(3, true, 32767, 2147483647, 9223372036854775807, '-Infinity', '-Infinity', 'Infinity', 92233720368547758.07, 4294967295,
    repeat('long ', 2000), 'z', '', 'z', repeat('n', 63),
    decode(repeat('00ff', 1000), 'hex'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"deep": {"deeper": {"deepest": [[[]]]}}}', '{"n": 1.000000000000000000001, "u": "\\u00e9"}',
    '0044-03-15 BC', '00:00:00', '23:59:59.999999+14', '0099-12-31 23:59:59.999999', '0044-03-15 12:00:00+00 BC',
    '-1 days -00:00:00.000001', '0.0.0.0/0', '0.0.0.0/0', '00:00:00:00:00:00', '(-1e300,1e-300)', '<(-1,-1),1e-10>',
    '{2147483647}', '{{{1}}}', '{1}', '{"\\\\"}', '{1e308}', '{t}', '{-0.0001}', '{"1999-12-31 23:59:59.999999-08"}', '{"[]"}',
    '{}', 'ok', '[-2147483648,2147483647)', '["-infinity","infinity"]', B'1111', B'1', 'x')`,
  `(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  `(5, true, 1, 1, 1, 3.4028235e38, 5e-324, 0.000000000000000000000000000001, 0, 1, 'a', 'b', 'c', 'd', 'e',
    '\\x01', '11111111-2222-3333-4444-555555555555', '1e400', '12.5e-3', '1970-01-01', '12:00', '12:00-00:00:30', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
    '0', '1.2.3.4', '1.2.3.4/32', '01:02:03:04:05:06', '(1,1)', '<(1,1),1>', '{1,2}', '{{1},{2}}', '{1,2}', '{a}', '{1}', '{f}', '{1}', '{"2000-01-01 00:00:00+00"}', '{"1"}',
    '{}', 'happy', '(1,2]', '[2000-01-01,2000-01-02)', B'0001', B'010101', 'a:1A b:2B')`,
  `(6, false, 0, 0, 0, 1.17549435e-38, -1.7976931348623157e308, -0.5, 1, 2, 'x', 'y', 'abcde', '\\377', 'f',
    '\\x5c', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'true', 'false', '2000-02-29', '23:59:59.999999', '00:00:00+00', '2038-01-19 03:14:07', '2038-01-19 03:14:07.999999-03:30',
    '2 hours', '255.255.255.255', '192.168.0.0/16', '00:00:00:00:00:01', '(3,4)', '<(3,4),5>', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
    '{}', 'sad', '[5,6)', '[2000-01-01,)', B'0110', B'1', 'b')`,
];

/** The types whose binary form decodes to the same JS value as their text (others stay bytes). */
const BINARY_DECODED = new Set([
  16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 700, 701, 1042, 1043, 1082, 1114, 1184, 2950, 3802,
]);

let db: TestDatabase;
let client: pg.Client;
let slot: string;
let text: Captured[];
let binary: Captured[];
let selected: Record<string, unknown>[];

beforeAll(async () => {
  db = await createTestDatabase('pgoutput_values');
  client = await connect(db.url);
  await client.query(`SET TimeZone = 'Asia/Kolkata'`);
  await client.query(`CREATE TYPE feeling AS ENUM ('sad', 'ok', 'happy')`);
  await client.query(
    `CREATE TABLE v (id int PRIMARY KEY, ${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`,
  );
  await client.query(`CREATE PUBLICATION p_v FOR TABLE v`);
  slot = await createSlot(client);
  for (const row of ROWS) await client.query(`INSERT INTO v VALUES ${row}`);
  selected = (await client.query<Record<string, unknown>>(`SELECT * FROM v ORDER BY id`)).rows;
  text = await peek(client, slot, { proto_version: '1', publication_names: 'p_v' });
  binary = await peek(client, slot, {
    proto_version: '1',
    publication_names: 'p_v',
    binary: 'true',
  });
});
afterAll(async () => {
  await dropSlot(client, slot);
  await client.end();
  await db.drop();
});

function inserts(
  captured: Captured[],
  options: Parameters<typeof decodeAll>[1] = {},
): Record<string, unknown>[] {
  return decodeAll(captured, options)
    .filter((m): m is InsertMessage => m.tag === 'insert')
    .map((m) => m.new);
}

function relation(captured: Captured[]): RelationMessage {
  return decodeAll(captured).find((m): m is RelationMessage => m.tag === 'relation')!;
}

describe('value fidelity against pg SELECT', () => {
  it(`covers ${COLUMNS.length} column types`, () => {
    expect(COLUMNS.length).toBeGreaterThanOrEqual(30);
    expect(relation(text).columns).toHaveLength(COLUMNS.length + 1);
    expect(selected).toHaveLength(ROWS.length);
  });

  it('decodes text values exactly as pg parses them', () => {
    const rows = inserts(text);
    expect(rows).toHaveLength(ROWS.length);
    for (const [i, row] of rows.entries()) expect(row).toStrictEqual(selected[i]);
  });

  it('decodes binary values of the common types exactly as pg parses their text, others as bytes', () => {
    const columns = relation(binary).columns;
    const rows = inserts(binary, { binary: true });
    expect(rows).toHaveLength(ROWS.length);
    let compared = 0;
    for (const [i, row] of rows.entries()) {
      for (const column of columns) {
        const value = row[column.name];
        if (value === null) {
          expect(selected[i]![column.name]).toBeNull();
        } else if (BINARY_DECODED.has(column.typeOid)) {
          expect({ [column.name]: value }).toStrictEqual({
            [column.name]: selected[i]![column.name],
          });
          compared++;
        } else {
          expect(Buffer.isBuffer(value), column.name).toBe(true);
        }
      }
    }
    expect(compared).toBeGreaterThan(ROWS.length * 15);
  });

  it("returns the server's text unchanged with parse: false", async () => {
    const raw = await client.query<Record<string, unknown>>({
      text: `SELECT * FROM v ORDER BY id`,
      types: { getTypeParser: () => (value: string) => value },
    });
    expect(inserts(text, { parse: false })).toStrictEqual(raw.rows);
    for (const row of inserts(binary, { parse: false, binary: true })) {
      for (const value of Object.values(row))
        if (value !== null) expect(Buffer.isBuffer(value)).toBe(true);
    }
  });

  it('applies custom type parsers, in text and binary mode', () => {
    const typeParsers = {
      20: BigInt,
      1700: (value: string) => `numeric:${value}`,
      23: (value: string) => Number(value) * 2,
    };
    const fromText = inserts(text, { typeParsers });
    const fromBinary = inserts(binary, { typeParsers, binary: true });
    expect(fromText[0]).toMatchObject({
      c_int8: 9007199254740993n,
      c_numeric: 'numeric:123.4500',
      c_int4: 246912,
    });
    expect(fromText[1]).toMatchObject({ c_int8: -9223372036854775808n, c_numeric: 'numeric:NaN' });
    for (const [i, row] of fromBinary.entries()) {
      expect(row.c_int8).toBe(fromText[i]!.c_int8);
      expect(row.c_int4).toBe(fromText[i]!.c_int4);
      // numeric has no binary decoder: a custom text parser cannot apply, the bytes stay.
      if (row.c_numeric !== null) expect(Buffer.isBuffer(row.c_numeric)).toBe(true);
    }
  });
});

describe('COPY text rows', () => {
  function copyDecoder(
    options: ConstructorParameters<typeof CopyTextRowDecoder>[1] = {},
  ): CopyTextRowDecoder {
    const columns = relation(text).columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
    return new CopyTextRowDecoder(columns, options);
  }

  it('decode to exactly the rows the stream delivers for the same values (escapes, NULLs, every type)', async () => {
    const copied = await copyOut(client, 'COPY (SELECT * FROM v ORDER BY id) TO STDOUT');
    expect(copied).toHaveLength(ROWS.length);
    const decoder = copyDecoder();
    const streamed = inserts(text);
    for (const [i, line] of copied.entries())
      expect(decoder.decode(line)).toStrictEqual(streamed[i]);
    // the same with custom parsers, and unparsed
    const typeParsers = { 20: BigInt, 1700: (value: string) => `numeric:${value}` };
    const custom = copyDecoder({ typeParsers });
    const customStreamed = inserts(text, { typeParsers });
    for (const [i, line] of copied.entries())
      expect(custom.decode(line)).toStrictEqual(customStreamed[i]);
    const raw = copyDecoder({ parse: false });
    const rawStreamed = inserts(text, { parse: false });
    for (const [i, line] of copied.entries())
      expect(raw.decode(line)).toStrictEqual(rawStreamed[i]);
    // texts(): the unescaped text of every column
    expect(raw.texts(copied[1]!)).toStrictEqual(Object.values(rawStreamed[1]!));
  });

  it('refuse a row with another number of columns, and a value its parser rejects', () => {
    const decoder = new CopyTextRowDecoder([
      { name: 'id', typeOid: 23 },
      { name: 'j', typeOid: 3802 },
    ]);
    expect(decoder.decode(Buffer.from('1\t\\N\n'))).toStrictEqual({ id: 1, j: null });
    expect(() => decoder.decode(Buffer.from('1\n'))).toThrow(
      expect.objectContaining({ code: 'INVALID_MESSAGE' }),
    );
    expect(() => decoder.decode(Buffer.from('1\t2\t3'))).toThrow(
      expect.objectContaining({ code: 'INVALID_MESSAGE' }),
    );
    expect(() => decoder.decode(Buffer.from('1\t{oops'))).toThrow(
      expect.objectContaining({ code: 'INVALID_VALUE' }),
    );
    expect(() => new CopyTextRowDecoder([])).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});

describe('binary round trips of generated values', () => {
  /** A small deterministic PRNG (mulberry32), so a failure reproduces. */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('float4, float8, timestamps and dates decode alike from text and binary', async () => {
    const next = random(42);
    const bits = new DataView(new ArrayBuffer(8));
    const values: string[] = [];
    for (let i = 0; i < 600; i++) {
      bits.setUint32(0, Math.floor(next() * 2 ** 32));
      bits.setUint32(4, Math.floor(next() * 2 ** 32));
      // Random bit patterns, and ordinary magnitudes (where ties between shortest decimals occur).
      const f4 =
        i % 2 === 0 ? bits.getFloat32(0) : Math.fround(next() * 10 ** Math.floor(next() * 10));
      const f8 = bits.getFloat64(0);
      // Timestamps from about 3700 BC to 7700 AD, with microseconds.
      const micros =
        BigInt(Math.floor((next() * 2 - 1) * 2 ** 52)) * 40n + BigInt(Math.floor(next() * 1e6));
      const literal = (x: number): string =>
        Number.isNaN(x) ? `'NaN'` : Number.isFinite(x) ? `'${x}'` : `'${x > 0 ? '' : '-'}Infinity'`;
      values.push(
        `(${i}, ${literal(f4)}::float4, ${literal(f8)}::float8, to_timestamp(${micros} / 1e6::numeric), to_timestamp(${micros} / 1e6::numeric)::timestamp, to_timestamp(${micros} / 1e6::numeric)::date)`,
      );
    }
    await client.query(
      `CREATE TABLE gen (id int PRIMARY KEY, f4 float4, f8 float8, tz timestamptz, ts timestamp, d date)`,
    );
    await client.query(`ALTER PUBLICATION p_v ADD TABLE gen`);
    const genSlot = await createSlot(client);
    try {
      await client.query(`INSERT INTO gen VALUES ${values.join(', ')}`);
      const rows = (await client.query<Record<string, unknown>>(`SELECT * FROM gen ORDER BY id`))
        .rows;
      const fromText = inserts(
        await peek(client, genSlot, { proto_version: '1', publication_names: 'p_v' }),
      );
      const fromBinary = inserts(
        await peek(client, genSlot, {
          proto_version: '1',
          publication_names: 'p_v',
          binary: 'true',
        }),
        { binary: true },
      );
      expect(fromText).toHaveLength(600);
      expect(fromText).toStrictEqual(rows);
      expect(fromBinary).toStrictEqual(rows);
    } finally {
      await dropSlot(client, genSlot);
    }
  });
});
