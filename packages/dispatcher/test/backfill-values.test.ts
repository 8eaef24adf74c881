// Backfill value fidelity: a snapshot row equals the insert the stream delivered for the same
// row (chunks are read with COPY and decoded by @koyo/pgoutput), for many types, domains,
// escapes, NULLs and custom type parsers; and text keys with quotes, tabs and backslashes cut
// chunks and resume exactly. Against a real PostgreSQL.
import { describe, expect, it } from 'vitest';
import type { Change } from '../src/index.js';
import { fileDb, freshDispatchers, waitFor } from './helpers.js';

const COLUMNS = [
  'b bool',
  'i2 int2',
  'i8 int8',
  'f4 float4',
  'f8 float8',
  'n numeric',
  't text',
  'ch char(5)',
  'by bytea',
  'u uuid',
  'j json',
  'jb jsonb',
  'd date',
  'ts timestamp',
  'tz timestamptz',
  'iv interval',
  'ip inet',
  'arr int4[]',
  'tarr text[]',
  'mood mood',
  'pos positive',
  'small small_positive',
  'r int4range',
];

const ROWS = [
  `(1, true, 1, 9007199254740993, 1.5, 3.141592653589793, 123.4500, E'tab\\there nl\\nthere back\\\\slash quote'' cr\\r', 'ab',
    '\\x00ff5c09', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, "x\\ty"]}', '{"b": {"c": true}}',
    '2024-03-10', '2024-03-10 02:30:00.5', '2024-06-01 12:34:56.789012+02', '1 year 2 mons 04:05:06.789',
    '192.168.1.1/24', '{1,NULL,3}', '{"a b","c\\\\d",NULL,"\\"q\\"",""}', 'happy', 5, 7, '[1,10)')`,
  `(2, false, -32768, -9223372036854775808, 'NaN', '-Infinity', 'NaN', '', '', '\\x', '00000000-0000-0000-0000-000000000000',
    '"s"', '[]', 'infinity', '-infinity', '0044-03-15 12:00:00+00 BC', '-178000000 years', '::1', '{}', '{}', 'sad', 1, 1, 'empty')`,
  `(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  `(4, true, 7, 1, 3.4028235e38, 5e-324, 0.000000000000000000000000000001, E'\\u00e9\\u4e2d\\U0001F600 \\\\N', 'abcde',
    decode(repeat('5c', 300), 'hex'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"deep": [[[]]]}', '{"u": "\\u00e9"}',
    '0099-12-31', '0099-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', '0', '0.0.0.0/0', '{2147483647}', '{"\\\\N"}', 'ok', 2, 3, '(,)')`,
];

/** Text keys that need quoting, escaping and unescaping to cut chunks and resume. */
const KEYS = [
  "a'b",
  'tab\there',
  'nl\nthere',
  'back\\slash',
  '\\N',
  'plain',
  'é中',
  "q''",
  ' lead',
];

const db = fileDb(
  'disp_backfill_values',
  `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
  'CREATE DOMAIN positive AS int8 CHECK (VALUE > 0)',
  'CREATE DOMAIN small_positive AS positive CHECK (VALUE < 100)',
  `CREATE TABLE typed (id int PRIMARY KEY, ${COLUMNS.join(', ')})`,
  'CREATE TABLE texted (k text PRIMARY KEY, v int NOT NULL)',
);
const fresh = freshDispatchers(db, 'bfv');

describe('backfill values', () => {
  for (const typeParsers of [
    undefined,
    { 20: BigInt, 1700: (v: string) => `n:${v}`, 1184: (v: string) => `tz:${v}` },
  ]) {
    it(`snapshot rows equal the streamed inserts of the same rows${typeParsers ? ' (custom typeParsers)' : ''}`, async () => {
      const table = 'typed';
      await db.query(`TRUNCATE ${table}`);
      const { dispatcher } = fresh({
        tables: [table],
        ...(typeParsers ? { typeParsers } : {}),
      });
      const inserts = new Map<unknown, Change>();
      const snapshots = new Map<unknown, Change>();
      dispatcher.onTable(table, {
        insert: (c) => void inserts.set(c.id, c),
        snapshot: (c) => void snapshots.set(c.id, c),
      });
      await dispatcher.start();
      for (const row of ROWS) await db.query(`INSERT INTO ${table} VALUES ${row}`);
      await waitFor(() => inserts.size === ROWS.length, 'the streamed inserts');
      const result = await dispatcher.backfill(table, { chunkSize: 3 });
      await dispatcher.stop();
      expect(result.tables[0]).toMatchObject({ rows: ROWS.length, chunks: 2 });
      expect(snapshots.size).toBe(ROWS.length);
      for (const [id, insert] of inserts) {
        const snapshot = snapshots.get(id)!;
        expect(snapshot.new).toStrictEqual(insert.new);
        expect(snapshot.key).toStrictEqual(insert.key);
      }
      const first = snapshots.get(1)!.new!;
      if (typeParsers) {
        expect(first).toMatchObject({ i8: 9007199254740993n, n: 'n:123.4500' });
        expect(String(first.tz)).toMatch(/^tz:2024-06-01 /);
      } else {
        expect(first).toMatchObject({ t: "tab\there nl\nthere back\\slash quote' cr\r", pos: '5' });
        expect(first.tz).toBeInstanceOf(Date);
      }
    });
  }

  it('cuts and resumes chunks at text keys with quotes, tabs, newlines and backslashes', async () => {
    for (const [i, k] of KEYS.entries())
      await db.query('INSERT INTO texted VALUES ($1, $2)', [k, i]);
    const { dispatcher } = fresh({ tables: ['texted'] });
    const seen: unknown[] = [];
    dispatcher.onTable('texted', { snapshot: (c) => void seen.push(c.new.k) });
    await dispatcher.start();
    const result = await dispatcher.backfill('texted', { chunkSize: 2 });
    await dispatcher.stop();
    const rows = await db.query<{ k: string }>('SELECT k FROM texted ORDER BY k');
    expect(seen).toStrictEqual(rows.map((r) => r.k));
    expect(result.tables[0]).toMatchObject({
      rows: KEYS.length,
      chunks: Math.ceil(KEYS.length / 2),
    });
  });
});
