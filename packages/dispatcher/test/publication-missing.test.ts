// A publication dropped while the dispatcher streams it: PostgreSQL 16+ only warns ("skipped
// loading publication", 55000) and skips the changes written meanwhile; 15 fails with 42704.
// Either way the dispatcher must stop with PUBLICATION_MISSING and acknowledge nothing after.
import { testCluster } from '@koyo/testing/vitest';
import { describe, expect, it } from 'vitest';
import { KoyoDispatcherError } from '../src/index.js';
import { confirmedFlush, fileDb, freshDispatchers, lsn } from './helpers.js';

const db = fileDb(
  'disp_pubmiss',
  'CREATE TABLE items (id int PRIMARY KEY)',
  'CREATE TABLE noise (id bigserial PRIMARY KEY, payload text)',
);
const fresh = freshDispatchers(db, 'pubmiss', { tables: ['items'] });

describe('a publication dropped under a running dispatcher', () => {
  it('rejects closed with PUBLICATION_MISSING, does not reconnect, and acknowledges nothing after the drop', async () => {
    const { dispatcher, slot, publication } = fresh({
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    });
    const handled: number[] = [];
    dispatcher.onTable('items', (change) => void handled.push(change.id as number));
    await dispatcher.start();
    await db.query('INSERT INTO items VALUES (1)');
    await dispatcher.drain();
    expect(handled).toEqual([1]);

    await db.query(`DROP PUBLICATION "${publication}"`);
    const [{ at }] = (await db.query<{ at: string }>(
      'SELECT pg_current_wal_lsn()::text AS at',
    )) as [{ at: string }];
    await db.query('INSERT INTO items VALUES (2), (3)');
    // Busy WAL elsewhere makes the server send keepalives: what a warned stream used to confirm.
    const noise = (async () => {
      for (let i = 0; i < 10; i++) {
        await db.query(
          "INSERT INTO noise (payload) SELECT repeat('x', 100) FROM generate_series(1, 200)",
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    let timer: NodeJS.Timeout | undefined;
    const error = await Promise.race([
      dispatcher.closed.then(
        () => new Error('closed resolved'),
        (e: unknown) => e,
      ),
      // A budget, not a threshold: a dispatcher that only logs the warning never stops.
      new Promise(
        (resolve) => (timer = setTimeout(() => resolve(new Error('still running')), 30_000)),
      ),
    ]);
    clearTimeout(timer);
    await noise;
    expect(error).toBeInstanceOf(KoyoDispatcherError);
    expect(error).toMatchObject({
      code: 'PUBLICATION_MISSING',
      sqlState: testCluster().major >= 16 ? '55000' : '42704',
    });
    expect((error as Error).message).toMatch(/Recreate the publication/);
    expect(dispatcher.stats().state).toBe('failed');
    expect(handled).toEqual([1]);
    // Server truth: the slot is not past the rows written after the drop, and no process holds it.
    expect(await confirmedFlush(db, slot)).toBeLessThanOrEqual(lsn(at));
    const [row] = await db.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    expect(row?.active).toBe(false);
  });
});
