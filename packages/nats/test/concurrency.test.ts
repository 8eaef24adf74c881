// A worker's `concurrency`: at most that many changes are handled at once in the process, each
// from a different partition (never two of one key), every key's changes in commit order, on a
// real PostgreSQL, relay and nats-server.
import { describe, expect, it } from 'vitest';
import { createNatsRelay, createNatsWorker, KoyoNatsError, type Change } from '../src/index.js';
import { uniqueName, waitFor, natsTestFile, relayOn } from './helpers.js';

const KEYS = 16;
const UPDATES = 240;
const PARTITIONS = 8;
const CONCURRENCY = 3;

const slot = uniqueName('conc');
const stream = uniqueName('CONC');

const { db, nats } = natsTestFile('nats_concurrency', {
  slot,
  statements: ['CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)'],
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('createNatsWorker concurrency', () => {
  it('refuses a concurrency that is not a positive integer', () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        createNatsWorker({
          nats: { servers: nats.url },
          durable: 'x',
          concurrency,
          handler: () => undefined,
        });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(KoyoNatsError);
      expect(error).toMatchObject({ code: 'INVALID_OPTION' });
    }
  });

  it(`handles up to ${CONCURRENCY} partitions at once, one change per key at a time, in commit order`, async () => {
    const relay = createNatsRelay(
      relayOn({ db, nats }, { slot, tables: ['counters'], stream, partitions: PARTITIONS }),
    );
    await relay.start();
    await db.query(`INSERT INTO counters SELECT g, 0 FROM generate_series(1, ${KEYS}) g`);
    // Round robin over the keys, a few updates per transaction: every partition has work.
    for (let i = 0; i < UPDATES; i += 8) {
      const keys = Array.from({ length: 8 }, (_, j) => 1 + ((i + j) % KEYS));
      await db.query(
        `UPDATE counters SET v = v + 1 WHERE k = ANY($1::int[])`, // one row per key, once each
        [keys],
      );
    }
    await relay.dispatcher.drain();
    await relay.stop();

    let inFlight = 0;
    let maxInFlight = 0;
    const keysInFlight = new Set<number>();
    let sameKeyOverlap = 0;
    const seen = new Map<number, number[]>();
    const worker = createNatsWorker({
      nats: { servers: nats.url },
      stream,
      durable: uniqueName('conc'),
      partitions: PARTITIONS,
      concurrency: CONCURRENCY,
      handler: async (change: Change) => {
        const row = change.new as { k: number; v: number };
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (keysInFlight.has(row.k)) sameKeyOverlap += 1;
        keysInFlight.add(row.k);
        try {
          // Hold the change until the process runs as many as it may (or a while has passed),
          // so a limit that is not applied shows as more at once.
          for (let waited = 0; inFlight < CONCURRENCY && waited < 200; waited += 5) await sleep(5);
          await sleep(2);
          seen.set(row.k, [...(seen.get(row.k) ?? []), row.v]);
        } finally {
          keysInFlight.delete(row.k);
          inFlight -= 1;
        }
      },
    });
    await worker.start();
    const total = KEYS + UPDATES;
    try {
      await waitFor(() => worker.stats().handled >= total, `${total} changes handled`, 120_000);
    } finally {
      await worker.stop();
    }

    expect(maxInFlight).toBe(CONCURRENCY);
    expect(sameKeyOverlap).toBe(0);
    expect(worker.stats()).toEqual({ handled: total, failures: 0, deadLettered: 0 });
    const rows = await db.query<{ k: number; v: number }>('SELECT k, v FROM counters ORDER BY k');
    for (const { k, v } of rows) {
      // The insert (v = 0), then every update in commit order: exactly 0, 1, ..., v.
      expect(seen.get(k), `key ${k}`).toEqual(Array.from({ length: v + 1 }, (_, i) => i));
    }
  });
});
