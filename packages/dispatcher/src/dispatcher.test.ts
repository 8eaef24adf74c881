// The engine fed with synthetic pgoutput messages (no server): acknowledgement, order and failure
// rules in isolation. Every behaviour here is also tested against PostgreSQL in test/.
import { describe, expect, it } from 'vitest';
import type { Change } from './types.js';
import { gate, nextLsn, relation, setup, tick, transaction } from '../test/fake-backend.js';

describe('acknowledgement', () => {
  it('acknowledges a transaction only after its handlers resolved', async () => {
    const { dispatcher, stream } = setup();
    const g = gate();
    const seen: number[] = [];
    dispatcher.onChange(async (change) => {
      await g.wait;
      seen.push(change.id as number);
    });
    stream.push(relation);
    const end = transaction(stream, [
      [1, 1],
      [2, 1],
    ]);
    await dispatcher.start();
    await tick();
    expect(stream.acks).toEqual([]);
    g.open();
    await tick();
    expect(seen).toEqual([1, 2]);
    expect(stream.acks).toEqual([end]);
    await dispatcher.stop();
  });

  it('with concurrency, acknowledges the low-water mark of finished transactions', async () => {
    const { dispatcher, stream } = setup({ concurrency: 4 });
    const g = gate();
    dispatcher.onChange(async (change) => {
      if (change.id === 1) await g.wait;
    });
    stream.push(relation);
    transaction(stream, [[1, 1]]);
    transaction(stream, [[2, 1]]);
    const last = transaction(stream, [[3, 1]]);
    await dispatcher.start();
    await tick();
    expect(stream.acks).toEqual([]); // 2 and 3 finished, 1 did not
    g.open();
    await tick();
    expect(stream.acks).toEqual([last]);
    await dispatcher.stop();
  });

  it('after a reconnect, redelivers a half-received transaction and does not deliver a received one twice', async () => {
    const { dispatcher, stream } = setup({ concurrency: 2 });
    const seen: string[] = [];
    const g = gate();
    dispatcher.onChange(async (change: Change) => {
      seen.push(`${String(change.id)}@${change.commitLsn}`);
      if (change.id === 1) await g.wait;
    });
    stream.push(relation);
    const first = transaction(stream, [[1, 1]]);
    // half of a second transaction, then the connection is lost
    const commitLsn = nextLsn(0x100n);
    stream.push(
      { tag: 'begin', finalLsn: commitLsn, commitTime: new Date(0), commitTimeMicros: 0n, xid: 2 },
      commitLsn - 0x80n,
    );
    stream.push({ tag: 'insert', relation, new: { id: 2, v: 1 } }, commitLsn - 0x40n);
    await dispatcher.start();
    await tick();
    stream.reconnect();
    // the server sends both again (the first was not acknowledged), in full
    stream.push(relation);
    stream.push(
      {
        tag: 'begin',
        finalLsn: first - 0x30n,
        commitTime: new Date(0),
        commitTimeMicros: 0n,
        xid: 1,
      },
      first - 0xb0n,
    );
    stream.push({ tag: 'insert', relation, new: { id: 1, v: 1 } }, first - 0x70n);
    stream.push(
      {
        tag: 'commit',
        flags: 0,
        commitLsn: first - 0x30n,
        endLsn: first,
        commitTime: new Date(0),
        commitTimeMicros: 0n,
      },
      first,
    );
    stream.push(
      { tag: 'begin', finalLsn: commitLsn, commitTime: new Date(0), commitTimeMicros: 0n, xid: 2 },
      commitLsn - 0x80n,
    );
    stream.push({ tag: 'insert', relation, new: { id: 2, v: 1 } }, commitLsn - 0x40n);
    stream.push(
      {
        tag: 'commit',
        flags: 0,
        commitLsn,
        endLsn: commitLsn + 0x30n,
        commitTime: new Date(0),
        commitTimeMicros: 0n,
      },
      commitLsn + 0x30n,
    );
    await tick();
    g.open();
    await tick();
    const ids = seen.map((s) => s.split('@')[0]);
    expect(ids.filter((id) => id === '1')).toHaveLength(1); // received in full before: not again
    expect(ids.filter((id) => id === '2').length).toBeGreaterThanOrEqual(1);
    expect(stream.acks.at(-1)).toBe(commitLsn + 0x30n);
    await dispatcher.stop();
  });
});

/**
 * Blocks the change handler: `stopWhileHandling()` starts the dispatcher, calls stop() once a
 * change's handler is running, then lets that handler finish and waits for the stop.
 */
function blockedHandler(
  dispatcher: ReturnType<typeof setup>['dispatcher'],
  note: (change: Change) => void = () => undefined,
): { stopWhileHandling: () => Promise<void> } {
  const entered = gate();
  const release = gate();
  dispatcher.onChange(async (change) => {
    note(change);
    entered.open();
    await release.wait;
  });
  return {
    stopWhileHandling: async () => {
      await dispatcher.start();
      await entered.wait;
      const stopped = dispatcher.stop();
      release.open();
      await stopped;
    },
  };
}

describe('stop()', () => {
  it.each([1, 4])(
    'with concurrency %i, acknowledges the transaction whose running handler it waited for, and nothing after it',
    async (concurrency) => {
      const { dispatcher, stream } = setup({ concurrency });
      const seen: string[] = [];
      const { stopWhileHandling } = blockedHandler(dispatcher, (change) =>
        seen.push(`${String(change.id)}:${String((change.new as { v: number }).v)}`),
      );
      stream.push(relation);
      // Both transactions, commits included, are received before stop(); the second one changes
      // the same row, so it waits for the first one in every mode.
      const first = transaction(stream, [[1, 1]]);
      transaction(stream, [[1, 2]]);
      await stopWhileHandling();
      expect(seen).toEqual(['1:1']);
      expect(stream.acks).toEqual([first]);
    },
  );

  it('does not acknowledge a transaction whose commit would start a handler', async () => {
    const { dispatcher, stream } = setup();
    const chunks: number[] = [];
    const { stopWhileHandling } = blockedHandler(dispatcher);
    dispatcher.onTransaction((batch) => void chunks.push(batch.changes.length));
    stream.push(relation);
    transaction(stream, [[1, 1]]);
    await stopWhileHandling();
    expect(chunks).toEqual([]); // its final chunk did not start after stop()
    expect(stream.acks).toEqual([]);
  });
});

describe('failures', () => {
  it('does not start a later change of the same row after a handler failed for good', async () => {
    const { dispatcher, stream } = setup({ concurrency: 4, retry: { attempts: 1 } });
    const calls: string[] = [];
    dispatcher.onChange(async (change) => {
      calls.push(`${String(change.id)}:${String((change.new as { v: number }).v)}`);
      await Promise.resolve();
      if ((change.new as { v: number }).v === 1) throw new Error('bad');
    });
    stream.push(relation);
    transaction(stream, [[7, 1]]);
    transaction(stream, [[7, 2]]);
    await dispatcher.start();
    await expect(dispatcher.closed).rejects.toMatchObject({ code: 'HANDLER_FAILED' });
    expect(calls).toEqual(['7:1']);
    expect(stream.acks).toEqual([]);
  });

  it('keeps per-row order with concurrency while other rows overtake', async () => {
    const { dispatcher, stream } = setup({ concurrency: 8 });
    const seen = new Map<number, number[]>();
    dispatcher.onChange(async (change) => {
      const row = change.new as { id: number; v: number };
      if (row.id % 3 === 0) await tick(1);
      seen.set(row.id, [...(seen.get(row.id) ?? []), row.v]);
    });
    stream.push(relation);
    let end = 0n;
    for (let v = 1; v <= 20; v++)
      end = transaction(
        stream,
        Array.from({ length: 6 }, (_, id): [number, number] => [id, v]),
      );
    await dispatcher.start();
    for (let i = 0; i < 200 && stream.flushedLsn < end; i++) await tick();
    for (let id = 0; id < 6; id++)
      expect(seen.get(id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(stream.flushedLsn).toBe(end);
    await dispatcher.stop();
  });
});
