// NATS stopped for 10 s during a write burst: the relay waits (the slot does not advance past
// anything JetStream lacks), then resumes; nothing is lost and nothing is stored twice.
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createNatsRelay } from '../src/index.js';
import { sleep } from './children.js';
import {
  confirmedFlush,
  lsn,
  readStream,
  uniqueName,
  waitFor,
  natsTestFile,
  relayOn,
} from './helpers.js';

const slot = uniqueName('down');
const stream = uniqueName('DOWN');

const { db, nats } = natsTestFile('nats_down', {
  slot,
  statements: ['CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL)'],
});

describe('NATS down', () => {
  it('waits while NATS is down without advancing the slot, then relays everything exactly once', async () => {
    const relay = createNatsRelay(
      relayOn(
        { db, nats },
        { slot, tables: ['events'], stream, partitions: 3, statusIntervalMs: 100 },
      ),
    );
    await relay.start();
    const writer = new pg.Client(db.url);
    await writer.connect();
    let writing = true;
    const write = async (): Promise<void> => {
      while (writing) {
        await writer.query(
          'INSERT INTO events (k) SELECT (random() * 20)::int FROM generate_series(1, $1)',
          [1 + Math.floor(Math.random() * 30)],
        );
        await sleep(10);
      }
    };
    const writes = write();
    await waitFor(() => relay.stats().published > 200, 'a first burst to be relayed');

    await nats.stop();
    const downAt = new Date();
    // While NATS is down, record how far the slot gets.
    let slotWhileDown = 0n;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const position = await confirmedFlush(db, slot);
      if (position > slotWhileDown) slotWhileDown = position;
      await sleep(100);
    }
    expect(relay.stats().waitingForNats).toBe(true);
    const upAt = new Date();
    await nats.start();
    await sleep(500);
    writing = false;
    await writes;
    await writer.end();
    await relay.dispatcher.drain();
    await relay.stop();
    await relay.closed;

    const nc = await connect({ servers: nats.url });
    const entries = await readStream(nc, stream);
    await nc.close();
    const rows = await db.query<{ id: string }>('SELECT id::text FROM events');
    expect(entries.length).toBe(rows.length);
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(rows.length);
    const ids = new Set(
      entries.map((entry) => String((entry.body as { new: { id: string } }).new.id)),
    );
    expect(rows.filter((row) => !ids.has(row.id))).toEqual([]);
    // The slot never passed a change that JetStream stored only after NATS came back.
    const storedAfter = entries.filter((entry) => entry.time >= upAt);
    expect(storedAfter.length).toBeGreaterThan(0);
    const firstAfter = storedAfter
      .map((entry) => lsn((entry.body as { commitLsn: string }).commitLsn))
      .reduce((a, b) => (a < b ? a : b));
    expect(slotWhileDown).toBeLessThanOrEqual(firstAfter);
    expect(entries.filter((entry) => entry.time > downAt && entry.time < upAt)).toEqual([]);
  });
});
