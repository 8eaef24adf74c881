import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openReplicationStream, type ReplicationEvent } from '../src/index.js';
import { confirmedFlush, ownClusterWithSlot, slotRow, sleep, sql, waitFor } from './_helpers.js';

describe('reconnect: a lost walsender, a primary restart and a crash mid-stream lose nothing', () => {
  const cluster = ownClusterWithSlot({
    table: 'CREATE TABLE items (id int PRIMARY KEY, batch int)',
    publication: 're_pub',
    slot: 're_slot',
  });

  /** Inserts batches of 5 rows, one transaction each, until stopped; survives the server going away. */
  function startWriter(url: string): { stop: () => Promise<void>; batches: () => number } {
    let stopped = false;
    let batch = 0;
    const done = (async () => {
      let client: pg.Client | undefined;
      while (!stopped) {
        try {
          if (!client) {
            client = new pg.Client(url);
            client.on('error', () => undefined);
            await client.connect();
          }
          await client.query(
            'INSERT INTO items SELECT g, $1 FROM generate_series($1 * 5, $1 * 5 + 4) g ON CONFLICT DO NOTHING',
            [batch],
          );
          batch++;
          await sleep(10);
        } catch {
          await client?.end().catch(() => undefined);
          client = undefined;
          await sleep(100);
        }
      }
      await client?.end().catch(() => undefined);
    })();
    return {
      stop: async () => {
        stopped = true;
        await done;
      },
      batches: () => batch,
    };
  }

  it('resumes by itself from the slot and delivers every committed row', async () => {
    const url = cluster.primary.url;
    const stream = openReplicationStream({
      connection: url,
      slot: 're_slot',
      publications: ['re_pub'],
      statusIntervalMs: 200,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    const seen = new Set<number>();
    let deliveries = 0;
    const reconnects: Extract<ReplicationEvent, { kind: 'reconnected' }>[] = [];
    let failure: unknown;
    const consumer = (async () => {
      let pending: number[] = [];
      try {
        for await (const event of stream) {
          if (event.kind === 'reconnected') {
            reconnects.push(event);
            pending = [];
            continue;
          }
          const m = event.message;
          if (m.tag === 'insert') pending.push(m.new.id as number);
          if (m.tag === 'commit') {
            // A consumer slower than the writer, so unprocessed messages wait in the buffer when the connection drops.
            await sleep(20);
            for (const id of pending) seen.add(id);
            deliveries += pending.length;
            pending = [];
            stream.acknowledge(m.endLsn);
          }
        }
      } catch (error) {
        failure = error;
      }
    })();
    await stream.ready();
    const writer = startWriter(url);

    await waitFor('rows to flow', () => seen.size >= 100);
    const holder = await waitFor(
      'the walsender',
      async () => (await slotRow(url, 're_slot'))?.activePid,
    );
    await sql(url, 'SELECT pg_terminate_backend($1)', [holder]);
    await waitFor('a reconnect after pg_terminate_backend', () => reconnects.length >= 1);
    const afterTerminate = seen.size;
    await waitFor('rows to flow again', () => seen.size >= afterTerminate + 100);
    const newHolder = await waitFor(
      'a new walsender',
      async () => (await slotRow(url, 're_slot'))?.activePid,
    );
    expect(newHolder).not.toBe(holder);

    await cluster.primary.restart();
    await waitFor('a reconnect after the restart', () => reconnects.length >= 2, 60_000);
    const afterRestart = seen.size;
    await waitFor('rows to flow after the restart', () => seen.size >= afterRestart + 100, 60_000);

    // A crash (SIGKILL): the slot's position may fall back to the last checkpoint; that is redelivery, not loss.
    await cluster.primary.kill();
    await cluster.primary.start();
    await waitFor('a reconnect after the crash', () => reconnects.length >= 3, 60_000);
    const afterCrash = seen.size;
    await waitFor('rows to flow after the crash', () => seen.size >= afterCrash + 100, 60_000);

    await writer.stop();
    const truth = (await sql<{ id: number }>(url, 'SELECT id FROM items ORDER BY id')).map(
      (r) => r.id,
    );
    await waitFor('every committed row', () => truth.every((id) => seen.has(id)), 60_000);
    const missing = truth.filter((id) => !seen.has(id));
    expect(missing).toEqual([]);
    expect(seen.size).toBe(truth.length);
    expect(deliveries).toBeGreaterThanOrEqual(truth.length);
    expect(failure).toBeUndefined();
    for (const event of reconnects) expect(event.startLsn).toBeGreaterThan(0n);
    // What koyo.slot.reconnects and koyo.slot.received report.
    expect(stream.reconnects).toBe(reconnects.length);
    expect(stream.bytesReceived).toBeGreaterThan(truth.length * 10);
    expect(stream.paused).toBe(false);

    await waitFor(
      'the final acknowledgement on the server',
      async () => (await confirmedFlush(url, 're_slot')) >= stream.deliveredLsn,
    );
    await stream.stop();
    await consumer;
    expect(failure).toBeUndefined();
  });
});
