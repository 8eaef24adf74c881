import { describe, expect, it } from 'vitest';
import type { Change } from '../src/index.js';
import { fileDb, freshDispatchers } from './helpers.js';

const db = fileDb(
  'disp_values',
  "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
  'CREATE DOMAIN posint AS int CHECK (VALUE > 0)',
);
const fresh = freshDispatchers(db, 'values');

// 36 types: what `pg` gives for a SELECT is what change.new must hold.
const COLUMNS: [string, string, string][] = [
  ['c_bool', 'boolean', 'true'],
  ['c_int2', 'smallint', '-32768'],
  ['c_int4', 'integer', '2147483647'],
  ['c_int8', 'bigint', '9223372036854775807'],
  ['c_float4', 'real', '3.14'],
  ['c_float8', 'double precision', "'-Infinity'"],
  ['c_numeric', 'numeric(30,10)', '12345678901234567890.0123456789'],
  ['c_money', 'money', '12.34'],
  ['c_text', 'text', "E'h\\u00e9llo\\nworld \u{1F600}'"],
  ['c_varchar', 'varchar(20)', "'abc'"],
  ['c_char', 'char(5)', "'ab'"],
  ['c_name', 'name', "'a_name'"],
  ['c_bytea', 'bytea', "'\\xdeadbeef00'"],
  ['c_date', 'date', "'2024-02-29'"],
  ['c_time', 'time', "'13:14:15.123456'"],
  ['c_timetz', 'timetz', "'13:14:15+02'"],
  ['c_timestamp', 'timestamp', "'2024-05-01 10:00:00.123'"],
  ['c_timestamptz', 'timestamptz', "'2024-05-01 10:00:00.123+02'"],
  ['c_interval', 'interval', "'1 year 2 mons 3 days 04:05:06.7'"],
  ['c_uuid', 'uuid', "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"],
  ['c_json', 'json', `'{"a": [1, 2, {"b": null}]}'`],
  ['c_jsonb', 'jsonb', `'{"z": 1, "a": "x"}'`],
  ['c_int4_arr', 'integer[]', "'{1,2,NULL,4}'"],
  ['c_text_arr', 'text[]', `'{"a b","c,d",NULL,"\\"q\\""}'`],
  ['c_int8_arr', 'bigint[]', "'{1,9223372036854775807}'"],
  ['c_bool_arr', 'boolean[]', "'{t,f}'"],
  ['c_ts_arr', 'timestamptz[]', `'{"2024-01-01 00:00:00+00"}'`],
  ['c_inet', 'inet', "'192.168.0.1/24'"],
  ['c_cidr', 'cidr', "'10.0.0.0/8'"],
  ['c_macaddr', 'macaddr', "'08:00:2b:01:02:03'"],
  ['c_point', 'point', "'(1.5,2.5)'"],
  ['c_circle', 'circle', "'<(1,2),3>'"],
  ['c_bit', 'bit(4)', "B'1010'"],
  ['c_varbit', 'varbit', "B'101'"],
  ['c_oid', 'oid', '4294967295'],
  ['c_xml', 'xml', "'<a>b</a>'"],
  ['c_tsvector', 'tsvector', "'a fat cat'"],
  ['c_int4range', 'int4range', "'[1,10)'"],
  ['c_enum', 'mood', "'happy'"],
  ['c_domain', 'posint', '42'],
  ['c_null', 'text', 'NULL'],
];

describe('value fidelity', () => {
  it(`change.new deep-equals pg's SELECT of the row for ${COLUMNS.length} types`, async () => {
    const table = 't_values';
    await db.query(
      `CREATE TABLE ${table} (id int PRIMARY KEY, ${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`,
    );
    const { dispatcher: d } = fresh({ tables: [table] });
    const changes: Change[] = [];
    d.onChange((c) => void changes.push(c));
    await d.start();
    await db.query(
      `INSERT INTO ${table} VALUES (1, ${COLUMNS.map(([, , value]) => value).join(', ')})`,
    );
    await db.query(`INSERT INTO ${table} (id) VALUES (2)`);
    await db.query(`UPDATE ${table} SET c_int4 = 1 WHERE id = 1`);
    await d.drain();
    const rows = await db.query(`SELECT * FROM ${table} ORDER BY id`);
    expect(changes).toHaveLength(3);
    expect(changes[1]!.new).toEqual(rows[1]);
    expect(changes[2]!.new).toEqual(rows[0]);
    // Column by column, for a readable failure.
    for (const [name] of COLUMNS)
      expect({ [name]: changes[2]!.new![name] }).toEqual({ [name]: rows[0]![name] });
  });
});
