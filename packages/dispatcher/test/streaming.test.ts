// streaming: true lets the server send large transactions while they are still in progress
// (here past a 64 kB logical_decoding_work_mem). The dispatcher buffers them, spilling to disk,
// and delivers exactly the committed changes, in order, at commit; aborted (sub)transactions
// are dropped.
import { describe, expect, it } from 'vitest';
import type { Change } from '../src/index.js';
import { confirmedFlush, fileDb, freshDispatchers, lsn } from './helpers.js';

const db = fileDb('disp_streaming', 'CREATE TABLE t_st (id int PRIMARY KEY, v text)');
const fresh = freshDispatchers(db, 'stream');

describe('streaming: true', () => {
  it('delivers streamed transactions at commit, without aborted parts, with spilled changes intact', async () => {
    const url = `${db.url}?options=${encodeURIComponent('-c logical_decoding_work_mem=64kB')}`;
    const { dispatcher: d, slot } = fresh({
      connection: url,
      tables: ['t_st'],
      streaming: true,
      spillThreshold: 500,
    });
    const changes: Change[] = [];
    d.onChange((c) => void changes.push(c));
    await d.start();
    await d.drain();
    // 1: a big committed transaction with a rolled-back subtransaction in the middle
    await db.query(`BEGIN;
      INSERT INTO t_st SELECT g, repeat('a', 50) FROM generate_series(1, 3000) g;
      SAVEPOINT s1;
      INSERT INTO t_st SELECT g, 'rolled back' FROM generate_series(100001, 103000) g;
      ROLLBACK TO SAVEPOINT s1;
      INSERT INTO t_st SELECT g, repeat('b', 50) FROM generate_series(3001, 6000) g;
      COMMIT`);
    // 2: a big aborted transaction
    await db
      .query(
        `BEGIN; INSERT INTO t_st SELECT g, 'aborted' FROM generate_series(200001, 206000) g; ROLLBACK`,
      )
      .catch(() => undefined);
    // 3: a small one after it
    await db.query(`INSERT INTO t_st VALUES (7000, 'small')`);
    const end = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await d.drain();
    const ids = changes.map((c) => c.id as number);
    expect(ids).toEqual([...Array.from({ length: 6000 }, (_, i) => i + 1), 7000]);
    const big = changes.slice(0, 6000);
    expect(new Set(big.map((c) => c.commitLsn)).size).toBe(1);
    expect(big.map((c) => c.position)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    expect(big[4000]!.new).toEqual({ id: 4001, v: 'b'.repeat(50) });
    await d.stop();
    expect(await confirmedFlush(db, slot)).toBeGreaterThanOrEqual(lsn(end[0]!.lsn));
    const stats = await db.query<{ stream_txns: string }>(
      'SELECT stream_txns::text FROM pg_stat_replication_slots WHERE slot_name = $1',
      [slot],
    );
    expect(Number(stats[0]?.stream_txns ?? 0)).toBeGreaterThan(0); // the server did stream
  });
});
