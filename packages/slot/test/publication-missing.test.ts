import { testCluster } from '@koyo/testing/vitest';
import { formatLsn, parseLsn } from '@koyo/pgoutput';
import { describe, expect, it } from 'vitest';
import { type ReplicationStream } from '../src/index.js';
import { Collector, confirmedFlush, sleep, sql, waitFor, streamTest } from './_helpers.js';

describe('a publication dropped under a running stream', () => {
  const t = streamTest(
    'slot_pubmiss',
    'pm_pub',
    [
      'CREATE TABLE items (id int PRIMARY KEY)',
      'CREATE TABLE noise (id bigserial PRIMARY KEY, payload text)',
    ],
    { statusIntervalMs: 100, ackDelayMs: 10, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } },
  );
  const stream = (slot: string): ReplicationStream => t.stream(slot);
  const acknowledging = (s: ReplicationStream): Collector =>
    new Collector(s, (event) => {
      if (event.message.tag === 'commit') s.acknowledge(event.message.endLsn);
    });
  const walLsn = async (): Promise<bigint> =>
    parseLsn(
      (await sql<{ lsn: string }>(t.db.url, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn,
    );

  it('ends the stream with PUBLICATION_MISSING and confirms nothing written after the drop', async () => {
    await t.manager.ensureSlot('pm_slot');
    const first = stream('pm_slot');
    const c1 = acknowledging(first);
    await first.ready();
    await sql(t.db.url, 'INSERT INTO items VALUES (1)');
    const commit1 = await waitFor('row 1', () => c1.of('commit')[0]);
    await waitFor(
      'row 1 confirmed',
      async () => (await confirmedFlush(t.db.url, 'pm_slot')) >= commit1.endLsn,
    );

    await sql(t.db.url, 'DROP PUBLICATION pm_pub');
    const afterDrop = await walLsn();
    await sql(t.db.url, 'INSERT INTO items VALUES (2), (3)');
    // Busy WAL elsewhere: keepalives flow, which is what let a warned stream confirm past rows 2 and 3.
    for (let i = 0; i < 10; i++) {
      await sql(
        t.db.url,
        "INSERT INTO noise (payload) SELECT repeat('x', 100) FROM generate_series(1, 200)",
      );
      await sleep(100);
    }
    // On PostgreSQL 16+ a stream that only logs the warning never ends (and confirms past rows 2, 3).
    await waitFor('the stream to stop', () => c1.error, 30_000);
    expect(c1.error).toMatchObject({
      name: 'KoyoSlotError',
      code: 'PUBLICATION_MISSING',
      sqlState: testCluster().major >= 16 ? '55000' : '42704',
    });
    expect((c1.error as Error).message).toMatch(/Recreate the publication/);
    expect(c1.inserted()).toEqual([1]);
    // Server truth: the slot did not pass the rows written after the drop.
    expect(await confirmedFlush(t.db.url, 'pm_slot')).toBeLessThanOrEqual(afterDrop);

    // Recreated, the publication still does not exist at that point in the WAL (PostgreSQL reads
    // it with the historic catalog): a new stream stops there again instead of skipping rows 2, 3.
    await t.manager.ensurePublication('pm_pub', { tables: ['items'] });
    const recreated = await walLsn();
    await sql(t.db.url, 'INSERT INTO items VALUES (4)');
    const second = stream('pm_slot');
    const c2 = acknowledging(second);
    await c2.done;
    expect(c2.error).toMatchObject({ code: 'PUBLICATION_MISSING' });
    expect(c2.inserted()).toEqual([]);
    expect(await confirmedFlush(t.db.url, 'pm_slot')).toBeLessThanOrEqual(afterDrop);

    // The documented way on: resynchronise rows 2 and 3 yourself, move the slot past the gap, start again.
    await sql(t.db.url, 'SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [
      'pm_slot',
      formatLsn(recreated),
    ]);
    const third = stream('pm_slot');
    const c3 = acknowledging(third);
    await waitFor('row 4', () => c3.inserted().length === 1);
    expect(c3.inserted()).toEqual([4]);
    await waitFor(
      'row 4 confirmed',
      async () => (await confirmedFlush(t.db.url, 'pm_slot')) >= c3.of('commit')[0]!.endLsn,
    );
    await third.stop();
    await c3.done;
    expect(c3.error).toBeUndefined();
  });
});
