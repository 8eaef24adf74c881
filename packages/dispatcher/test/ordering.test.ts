import { describe, expect, it } from 'vitest';
import { confirmedFlush, fileDb, freshDispatchers, lsn } from './helpers.js';

const db = fileDb(
  'disp_order',
  'CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)',
  'INSERT INTO counters SELECT g, 0 FROM generate_series(1, 50) g',
);
const fresh = freshDispatchers(db, 'order', { tables: ['counters'], concurrency: 8 });

describe('concurrency: 8', () => {
  it('keeps per-key order under 10k updates to 50 keys, runs keys in parallel, and acknowledges the low-water mark', async () => {
    const { dispatcher: d, slot } = fresh();
    const seen = new Map<number, number[]>();
    let running = 0;
    let maxRunning = 0;
    d.onTable('counters', async (change) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      // Uneven handler times, so a scheduler that ignored keys would reorder them.
      if (Math.random() < 0.05)
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
      else await Promise.resolve();
      const row = change.new as { k: number; v: number };
      const list = seen.get(row.k) ?? [];
      list.push(row.v);
      seen.set(row.k, list);
      running--;
    });
    await d.start();
    await d.drain();
    // 10 000 updates in 200 transactions of 50 random-key updates each (a key may repeat in a transaction).
    const updates = new Array<number>(51).fill(0);
    for (let t = 0; t < 200; t++) {
      const keys = Array.from({ length: 50 }, () => 1 + Math.floor(Math.random() * 50));
      for (const k of keys) updates[k]!++;
      await db.query(
        `DO $$ DECLARE x int; BEGIN FOREACH x IN ARRAY ARRAY[${keys.join(',')}]::int[] LOOP UPDATE counters SET v = v + 1 WHERE k = x; END LOOP; END $$`,
      );
    }
    const end = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await d.drain();
    let total = 0;
    for (let k = 1; k <= 50; k++) {
      const values = seen.get(k) ?? [];
      total += values.length;
      // Each key saw 1, 2, 3, ... in order: no reordering, no gap, no duplicate.
      expect(values).toEqual(Array.from({ length: updates[k]! }, (_, i) => i + 1));
    }
    expect(total).toBe(10_000);
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(8);
    await d.stop();
    expect(await confirmedFlush(db, slot)).toBeGreaterThanOrEqual(lsn(end[0]!.lsn));
  });

  it('never acknowledges past an earlier transaction whose handler is still running', async () => {
    const { dispatcher: d, slot } = fresh({ statusIntervalMs: 50 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handled: number[] = [];
    let blockedCommit = '';
    d.onTable('counters', async (change) => {
      const row = change.new as { k: number };
      if (row.k === 1) {
        blockedCommit = change.commitLsn;
        await gate;
      }
      handled.push(row.k);
    });
    await d.start();
    await d.drain();
    await db.query('UPDATE counters SET v = v + 1 WHERE k = 1');
    for (let k = 2; k <= 20; k++) await db.query('UPDATE counters SET v = v + 1 WHERE k = $1', [k]);
    // Later transactions (other keys) finish while the first one is blocked ...
    await waitUntil(() => handled.length === 19);
    await new Promise((resolve) => setTimeout(resolve, 300)); // several status intervals
    // ... but the slot stays before the blocked transaction (server truth).
    const during = await confirmedFlush(db, slot);
    expect(during).toBeLessThanOrEqual(lsn(blockedCommit));
    expect(d.stats().inFlight).toBe(1);
    release();
    await d.drain();
    expect(handled).toHaveLength(20);
    await d.stop();
    expect(await confirmedFlush(db, slot)).toBeGreaterThan(lsn(blockedCommit));
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
}
