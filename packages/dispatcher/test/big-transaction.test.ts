// A 1M-row transaction is dispatched with bounded memory: the dispatcher never holds the whole
// transaction (changes go to handlers as they are decoded, onTransaction gets 1000-change
// chunks, and the stream pauses the socket when its buffer is full). The dispatcher runs in a
// child process so its RSS is measured alone.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmedFlush, dropSlot, lsn, openDb, uniqueName, type Db } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = 1_000_000;
// Holding 1M changes would take well over 500 MB; a streaming dispatcher stays near its baseline.
const RSS_BOUND = 200 * 1024 * 1024;

let db: Db;
const slot = uniqueName('big');
const publication = uniqueName('big_pub');
beforeAll(async () => {
  db = await openDb('disp_big');
  await db.query('CREATE TABLE t_big (id int PRIMARY KEY, v text)');
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE t_big`);
  await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
});
afterAll(async () => {
  await dropSlot(db, slot).catch(() => undefined);
  await db.close();
});

describe('a 1M-row transaction', () => {
  it('is dispatched in full with bounded RSS', async () => {
    await db.query(`INSERT INTO t_big SELECT g, 'row ' || g FROM generate_series(1, ${ROWS}) g`);
    const end = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=@koyo/source',
        '--import',
        'tsx',
        join(here, 'fixtures/big-txn-child.ts'),
        db.url,
        slot,
        publication,
        String(ROWS),
      ],
      { maxBuffer: 1 << 20 },
    );
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
      changes: number;
      chunks: number;
      biggestChunk: number;
      finals: number;
      peakRss: number;
    };
    expect(result.changes).toBe(ROWS);
    expect(result.chunks).toBe(ROWS / 1000);
    expect(result.biggestChunk).toBe(1000);
    expect(result.finals).toBe(1);
    expect(result.peakRss).toBeLessThan(RSS_BOUND);
    expect(await confirmedFlush(db, slot)).toBeGreaterThanOrEqual(lsn(end[0]!.lsn));
  });
});
