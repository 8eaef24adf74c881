// quoteLiteral against a real server: a value reads back unchanged whatever
// standard_conforming_strings is, including backslashes and quotes that would otherwise end the
// literal early when it is off.
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteLiteral } from '../src/index.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('slot_quote_literal');
});
afterAll(async () => {
  await db?.drop();
});

const values = ["it's", 'C:\\path\\', "x\\'; SELECT 1; --", '\\x00ff', 'plain', '', '\\\\'];

describe('quoteLiteral', () => {
  it.each(['on', 'off'])(
    'reads every value back unchanged with standard_conforming_strings = %s',
    async (setting) => {
      const client = new pg.Client(db.url);
      await client.connect();
      try {
        await client.query(`SET standard_conforming_strings = ${setting}`);
        await client.query('SET escape_string_warning = off');
        for (const value of values) {
          // A simple query, as the backfill's multi-statement round trips send them.
          const result = await client.query<{ v: string }>(
            `SELECT ${quoteLiteral(value)}::text AS v`,
          );
          expect(result.rows).toEqual([{ v: value }]);
        }
      } finally {
        await client.end();
      }
    },
  );
});
