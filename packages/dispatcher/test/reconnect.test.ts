// A lost replication connection (the walsender is terminated mid-stream) is reconnected from the
// slot: nothing is lost, changes received in full before are not needed again, and the
// dispatcher keeps running.
import { describe, expect, it } from 'vitest';
import {
  confirmedFlush,
  dispatcherFor,
  dropSlot,
  fileDb,
  lsn,
  uniqueName,
  waitFor,
} from './helpers.js';

const db = fileDb('disp_reconnect', 'CREATE TABLE t_rc (id int PRIMARY KEY, v int NOT NULL)');

describe('a lost connection', () => {
  for (const concurrency of [1, 4]) {
    it(`is resumed from the slot without losing changes (concurrency ${concurrency})`, async () => {
      const slot = uniqueName('rc');
      await db.query('TRUNCATE t_rc');
      const d = dispatcherFor(db, {
        slot,
        tables: ['t_rc'],
        concurrency,
        reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      });
      const counts = new Map<string, number>();
      let handled = 0;
      d.onTable('t_rc', {
        insert: async (change) => {
          if (handled % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          handled++;
          const key = `${String(change.id)}:${String((change.new as { v: number }).v)}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        },
      });
      await d.start();
      await d.drain();
      for (let t = 0; t < 30; t++)
        await db.query(
          `INSERT INTO t_rc SELECT g, ${t} FROM generate_series(${t * 1000 + 1}, ${(t + 1) * 1000}) g`,
        );
      const end = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      let previous: number | null = null;
      for (const after of [3_000, 15_000]) {
        await waitFor(() => handled >= after, `${after} changes`);
        // The stream holds the slot again (after the first kill, with a new walsender).
        let pid: number | null = null;
        await waitFor(async () => {
          const rows = await db.query<{ pid: number | null }>(
            'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
            [slot],
          );
          pid = rows[0]?.pid ?? null;
          return pid !== null && pid !== previous;
        }, 'the stream to hold the slot');
        previous = pid;
        const killed = await db.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [
          pid,
        ]);
        expect(killed).toEqual([{ ok: true }]);
      }
      await d.drain();
      expect(d.stats().state).toBe('running');
      const missing: number[] = [];
      for (let id = 1; id <= 30_000; id++)
        if (!counts.has(`${id}:${Math.floor((id - 1) / 1000)}`)) missing.push(id);
      expect(missing).toEqual([]);
      await d.stop();
      expect(await confirmedFlush(db, slot)).toBeGreaterThanOrEqual(lsn(end[0]!.lsn));
      await dropSlot(db, slot);
    });
  }
});
