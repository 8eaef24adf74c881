// When a streamed transaction needs its messages read back (a message right before a rolled-back
// savepoint) and no replication slot is free for the temporary copy, the dispatcher stops with
// STREAM_FAILED rather than guess, delivers none of that transaction and acknowledges nothing
// of it. Its own cluster: max_replication_slots = 1, taken by the dispatcher's slot.
import { startCluster, type Cluster } from '@koyo/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, type Change, type LogicalMessage } from '../src/index.js';
import { lsn } from './helpers.js';

const SMALL_WORK_MEM = `?options=${encodeURIComponent('-c logical_decoding_work_mem=64kB')}`;

let cluster: Cluster;
let admin: pg.Client;
beforeAll(async () => {
  cluster = await startCluster({ replicas: 0, settings: { max_replication_slots: 1 } });
  admin = new pg.Client(cluster.primary.url);
  await admin.connect();
  // No key: an identity keeps koyo's setup from refusing it (REPLICA_IDENTITY_MISSING); inserts are unchanged.
  await admin.query(
    'CREATE TABLE stream_test (data text); ALTER TABLE stream_test REPLICA IDENTITY FULL',
  );
});
afterAll(async () => {
  await admin?.end();
  await cluster?.stop();
});

async function confirmedFlush(slot: string): Promise<bigint> {
  const { rows } = await admin.query<{ lsn: string }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return lsn(rows[0]!.lsn);
}

describe('streaming: true without a free replication slot', () => {
  it('stops with STREAM_FAILED, delivers and acknowledges nothing of the uncertain transaction; it comes again', async () => {
    const options = {
      connection: cluster.primary.url + SMALL_WORK_MEM,
      slot: 'only_slot',
      publication: 'pub_no_free_slot',
      tables: ['stream_test'],
      logger: false as const,
      statusIntervalMs: 200,
    };
    const streamed = createDispatcher({ ...options, streaming: true });
    const seen: (Change | LogicalMessage)[] = [];
    streamed.onChange((c) => void seen.push(c));
    streamed.onMessage('test', (m) => void seen.push(m));
    await streamed.start();
    await streamed.drain();
    const before = await confirmedFlush(options.slot);

    await admin.query(`BEGIN; SAVEPOINT s1;
      SELECT pg_logical_emit_message(true, 'test', 'from-rolled-back-subxact');
      INSERT INTO stream_test SELECT repeat('a', 2000) || g.i FROM generate_series(1, 35) g(i);
      ROLLBACK TO s1;
      INSERT INTO stream_test SELECT repeat('a', 10) || g.i FROM generate_series(1, 3) g(i);
      COMMIT;`);
    const { rows } = await admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const committed = lsn(rows[0]!.lsn);

    // Fixed, drain() rejects as the dispatcher stops; without the fix it resolves.
    const drained = await streamed.drain().then(
      () => true,
      () => false,
    );
    if (drained) await streamed.stop();
    const error = await streamed.closed.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'STREAM_FAILED', sqlState: '53400' });
    expect((error as Error).message).toMatch(/max_replication_slots/);
    expect(seen).toEqual([]);
    const after = await confirmedFlush(options.slot);
    expect(after).toBeLessThan(committed);
    expect(after).toBeGreaterThanOrEqual(before);
    const { rows: slots } = await admin.query<{ slot_name: string }>(
      'SELECT slot_name FROM pg_replication_slots',
    );
    expect(slots.map((s) => s.slot_name)).toEqual([options.slot]);

    // Nothing was lost: the same slot without streaming delivers the transaction, correctly.
    const plain = createDispatcher(options);
    const again: Change[] = [];
    plain.onChange((c) => void again.push(c));
    plain.onMessage('test', () => {
      throw new Error('the rolled-back message must not be delivered');
    });
    await plain.start();
    await plain.drain();
    await plain.stop();
    expect(again.map((c) => c.position)).toEqual([0, 1, 2]);
    expect(await confirmedFlush(options.slot)).toBeGreaterThanOrEqual(committed);
  });
});
