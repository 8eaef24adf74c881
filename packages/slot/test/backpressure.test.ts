import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlotManager, openReplicationStream, type SlotManager } from '../src/index.js';
import { confirmedFlush, sleep, sql, waitFor } from './_helpers.js';

const ROWS = 1_000_000;
const MiB = 1024 * 1024;

describe('backpressure: a 1,000,000-row transaction and a slow consumer', () => {
  let db: TestDatabase;
  let manager: SlotManager;
  beforeAll(async () => {
    db = await createTestDatabase('slot_bp');
    await sql(db.url, 'CREATE TABLE big (id int PRIMARY KEY, filler text)');
    manager = createSlotManager(db.url);
    await manager.ensurePublication('bp_pub', { tables: ['big'] });
    await manager.ensureSlot('bp_slot');
  });
  afterAll(async () => {
    await manager.dropSlot('bp_slot', { force: true });
    await manager.close();
    await db.drop();
  });

  it('keeps memory bounded: the socket is paused while the buffer is full', async () => {
    // About 230 bytes per row on the wire: the transaction is ~240 MB of pgoutput payload.
    await sql(
      db.url,
      `INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, ${ROWS}) g`,
    );

    globalThis.gc?.();
    const baseline = process.memoryUsage();
    const bufferSize = 4 * MiB;
    const stream = openReplicationStream({
      connection: db.url,
      slot: 'bp_slot',
      publications: ['bp_pub'],
      bufferSize,
      statusIntervalMs: 1000,
    });
    let inserts = 0;
    let messages = 0;
    let peakRss = baseline.rss;
    let peakHeap = baseline.heapUsed;
    let peakBuffered = 0;
    let committed = 0n;
    for await (const event of stream) {
      if (event.kind !== 'message') continue;
      messages++;
      if (stream.bufferedBytes > peakBuffered) peakBuffered = stream.bufferedBytes;
      const m = event.message;
      if (m.tag === 'insert') inserts++;
      if (messages % 2_000 === 0) {
        const usage = process.memoryUsage();
        if (usage.rss > peakRss) peakRss = usage.rss;
        if (usage.heapUsed > peakHeap) peakHeap = usage.heapUsed;
        // The deliberately slow part: the consumer yields to timers for a while every 2,000 messages.
        await sleep(2);
      }
      if (m.tag === 'commit') {
        stream.acknowledge(m.endLsn);
        committed = m.endLsn;
        break;
      }
    }
    expect(inserts).toBe(ROWS);
    // Counted bytes never exceed the buffer by more than what one socket read can carry.
    expect(peakBuffered).toBeLessThanOrEqual(bufferSize + MiB);
    // The whole transaction is ~240 MB of payload (far more as JS objects); memory grew by a fraction of it.
    expect(peakRss - baseline.rss).toBeLessThan(200 * MiB);
    expect(peakHeap - baseline.heapUsed).toBeLessThan(200 * MiB);
    // `break` stopped the stream, and the final status update carried the acknowledgement.
    await waitFor(
      'confirmed_flush_lsn at the commit',
      async () => (await confirmedFlush(db.url, 'bp_slot')) >= committed,
    );
  });
});
