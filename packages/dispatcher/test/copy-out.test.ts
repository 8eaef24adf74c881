// The COPY framer in front of pg's parser (src/_copy-out.ts), against a real PostgreSQL: rows
// that straddle socket reads, NOTICEs and result rows interleaved with COPY data, a COPY that
// fails half-way, and the same pg client going on with ordinary queries after each.
import type { Buffer } from 'node:buffer';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyOut } from '../src/_copy-out.js';
import { fileDb } from './helpers.js';

const db = fileDb(
  'disp_copy_out',
  `CREATE TABLE wide (id int PRIMARY KEY, v text NOT NULL)`,
  // Rows of 1 to ~3,000 bytes: many straddle the socket's reads, some headers too.
  `INSERT INTO wide SELECT g, repeat(md5(g::text), 1 + (g * 7919) % 97) FROM generate_series(1, 20000) g`,
);

/** The rows of a run of CopyData messages: each message's payload as text. */
function collect(into: string[]) {
  return (buf: Buffer, start: number, end: number): void => {
    for (let p = start; p < end;) {
      expect(buf[p]).toBe(0x64); // 'd'
      const size = buf.readUInt32BE(p + 1);
      into.push(buf.toString('utf8', p + 5, p + 1 + size));
      p += 1 + size;
    }
  };
}

describe('copyOut', () => {
  let client: pg.Client;
  let expected: string[];
  beforeAll(async () => {
    client = new pg.Client(db.url);
    await client.connect();
    const rows = await client.query<{ id: number; v: string }>(
      'SELECT id, v FROM wide ORDER BY id',
    );
    expected = rows.rows.map((row) => `${row.id}\t${row.v}\n`);
  });
  afterAll(() => client.end());

  it('hands over every row of a COPY whose rows straddle socket reads, in order', async () => {
    const rows: string[] = [];
    const count = await copyOut(
      client,
      'COPY (SELECT id, v FROM wide ORDER BY id) TO STDOUT',
      collect(rows),
    );
    expect(count).toBe(20000);
    expect(rows).toStrictEqual(expected);
    // The client goes on as before (pg's parser saw whole messages only).
    expect((await client.query('SELECT count(*)::int AS n FROM wide')).rows).toStrictEqual([
      { n: 20000 },
    ]);
  });

  it('hands over rows that span many socket reads between small ones', async () => {
    const rows: string[] = [];
    const sql = `COPY (SELECT g, CASE WHEN g % 2 = 0 THEN repeat(chr(97 + g), 3000000 + g) ELSE 'x' END
                        FROM generate_series(1, 5) g ORDER BY g) TO STDOUT`;
    expect(await copyOut(client, sql, collect(rows))).toBe(5);
    expect(rows).toStrictEqual(
      [1, 2, 3, 4, 5].map(
        (g) => `${g}\t${g % 2 === 0 ? String.fromCharCode(97 + g).repeat(3000000 + g) : 'x'}\n`,
      ),
    );
  });

  it('keeps NOTICEs and result rows of the same simple query with pg, in their order', async () => {
    const seen: string[] = [];
    const notice = (message: { message?: string | undefined }): void => {
      seen.push(`notice ${message.message}`);
    };
    client.on('notice', notice);
    try {
      const count = await copyOut(
        client,
        `DO $$ BEGIN RAISE NOTICE 'before'; END $$;
         COPY (SELECT id, v FROM wide WHERE id <= 3 ORDER BY id) TO STDOUT;
         SELECT 'after' AS a, 2 AS b;
         DO $$ BEGIN RAISE NOTICE 'last'; END $$`,
        (buf, start, end) => {
          const rows: string[] = [];
          collect(rows)(buf, start, end);
          seen.push(...rows.map((row) => `row ${row.split('\t')[0]}`));
        },
        (fields) => seen.push(`select ${fields.join(',')}`),
      );
      expect(count).toBe(3);
    } finally {
      client.off('notice', notice);
    }
    expect(seen).toStrictEqual([
      'notice before',
      'row 1',
      'row 2',
      'row 3',
      'select after,2',
      'notice last',
    ]);
  });

  it('rejects with the server error of a COPY that fails half-way; the client and the next COPY work', async () => {
    const rows: string[] = [];
    const failed = await copyOut(
      client,
      'COPY (SELECT id, 1 / (id - 15000) FROM wide ORDER BY id) TO STDOUT',
      collect(rows),
    ).catch((error: unknown) => error);
    expect((failed as { code?: string }).code).toBe('22012'); // division_by_zero
    expect(rows.length).toBeLessThan(15000);
    expect((await client.query('SELECT 41 + 1 AS n')).rows).toStrictEqual([{ n: 42 }]);
    const again: string[] = [];
    await copyOut(client, 'COPY (SELECT id, v FROM wide ORDER BY id) TO STDOUT', collect(again));
    expect(again).toStrictEqual(expected);
  });

  it('reports a sink that throws at the end of the COPY, after the server finished it', async () => {
    const error = new Error('sink failed');
    const failed = await copyOut(client, 'COPY (SELECT id FROM wide) TO STDOUT', () => {
      throw error;
    }).catch((caught: unknown) => caught);
    expect(failed).toBe(error);
    expect((await client.query('SELECT 1 AS n')).rows).toStrictEqual([{ n: 1 }]);
  });
});
