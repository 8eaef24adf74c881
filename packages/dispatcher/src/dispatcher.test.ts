// The engine fed with synthetic pgoutput messages (no server): acknowledgement, order and failure
// rules in isolation. Every behaviour here is also tested against PostgreSQL in test/.
import { describe, expect, it } from 'vitest';
import type { PgoutputMessage, RelationColumn, RelationMessage } from '@koyo/pgoutput';
import type { ReplicationEvent } from '@koyo/slot';
import type { Backend, WireStream } from './_backend.js';
import { DispatcherImpl } from './dispatcher.js';
import type { DispatcherOptions } from './options.js';
import type { Change } from './types.js';

class FakeStream implements WireStream {
  readonly acks: bigint[] = [];
  receivedLsn = 0n;
  flushedLsn = 0n;
  private queue: ReplicationEvent[] = [];
  private wake: (() => void) | null = null;
  private stopped = false;

  push(message: PgoutputMessage, lsn = 0n): void {
    if (lsn > this.receivedLsn) this.receivedLsn = lsn;
    this.queue.push({ kind: 'message', lsn, walEnd: lsn, message });
    this.wake?.();
  }

  reconnect(): void {
    this.queue.push({ kind: 'reconnected', startLsn: this.flushedLsn, attempt: 1 });
    this.wake?.();
  }

  acknowledge(lsn: bigint): void {
    this.acks.push(lsn);
    if (lsn > this.flushedLsn) this.flushedLsn = lsn;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    return Promise.resolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplicationEvent> {
    return {
      next: async () => {
        for (;;) {
          const event = this.queue.shift();
          if (event) return { done: false, value: event };
          if (this.stopped) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      },
    };
  }
}

const column = (name: string, isKey = false): RelationColumn => ({
  name,
  typeOid: 23,
  typeMod: -1,
  isKey,
  flags: isKey ? 1 : 0,
});
const relation: RelationMessage = {
  tag: 'relation',
  oid: 1,
  schema: 'public',
  name: 'items',
  replicaIdentity: 'default',
  columns: [column('id', true), column('v')],
};

function setup(
  options: Partial<DispatcherOptions> = {},
  lookupCommittedMessages: Backend['lookupCommittedMessages'] = () =>
    Promise.resolve({ positions: new Map(), total: 0 }),
): {
  dispatcher: DispatcherImpl;
  stream: FakeStream;
} {
  const stream = new FakeStream();
  const backend: Backend = {
    resolveTables: (refs) =>
      Promise.resolve(refs.map((ref) => ({ schema: ref.schema ?? 'public', name: ref.name }))),
    setup: () => Promise.resolve(),
    openStream: () => stream,
    emitMarker: () => Promise.resolve(),
    lookupPrimaryKey: () => Promise.resolve(null),
    lookupDomains: () => Promise.resolve(new Map()),
    lookupCommittedMessages,
    slotExists: () => Promise.resolve(true),
    backfill: {
      publicationTables: () => Promise.resolve([]),
      describe: () => Promise.reject(new Error('no backfill in unit tests')),
      loadProgress: () => Promise.resolve(null),
      saveProgress: () => Promise.resolve(),
      markInitial: () => Promise.resolve(),
      unfinished: () => Promise.resolve([]),
      emitWatermark: () => Promise.resolve(),
      readChunk: () => Promise.reject(new Error('no backfill in unit tests')),
      close: () => Promise.resolve(),
    },
    close: () => Promise.resolve(),
  };
  const dispatcher = new DispatcherImpl(
    { connection: 'postgres://x', slot: 's', publication: 'p', logger: false, ...options },
    () => backend,
  );
  return { dispatcher, stream };
}

let lsnCounter = 0x1000n;
/** Pushes one transaction of `rows` ([id, v]) and returns its commit end LSN. */
function transaction(stream: FakeStream, rows: [number, number][], xid = 1): bigint {
  const commitLsn = (lsnCounter += 0x100n);
  const endLsn = commitLsn + 0x30n;
  const time = new Date(0);
  stream.push(
    { tag: 'begin', finalLsn: commitLsn, commitTime: time, commitTimeMicros: 0n, xid },
    commitLsn - 0x80n,
  );
  for (const [id, v] of rows)
    stream.push({ tag: 'insert', relation, new: { id, v } }, commitLsn - 0x40n);
  stream.push(
    { tag: 'commit', flags: 0, commitLsn, endLsn, commitTime: time, commitTimeMicros: 0n },
    endLsn,
  );
  return endLsn;
}

const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

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
    const commitLsn = (lsnCounter += 0x100n);
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

describe('streamed transactions with logical messages', () => {
  const XID = 10;
  const SUB = 11;
  const message = (lsn: bigint, text: string): PgoutputMessage => ({
    tag: 'message',
    transactional: true,
    lsn,
    prefix: 'app',
    content: Buffer.from(text),
    xid: XID, // pgoutput sends a streamed message with the top-level xid
  });
  /** Changes at LSNs apart from the messages' (a message tied with a change is another case). */
  let changeLsn = 0x1_0000_0000n;
  const insert = (id: number, xid: number): PgoutputMessage => ({
    tag: 'insert',
    relation,
    new: { id, v: 0 },
    xid,
  });
  /** A streamed transaction of `items`, then its commit; returns its commit and end LSNs. */
  function streamed(
    stream: FakeStream,
    items: (PgoutputMessage | 'abort-sub')[],
  ): { commitLsn: bigint; endLsn: bigint } {
    const commitLsn = (lsnCounter += 0x1000n);
    const endLsn = commitLsn + 0x30n;
    stream.push({ tag: 'stream_start', xid: XID, firstSegment: true });
    stream.push({ ...relation, xid: XID });
    for (const item of items) {
      if (item === 'abort-sub') {
        stream.push({ tag: 'stream_stop' });
        stream.push({ tag: 'stream_abort', xid: XID, subXid: SUB });
        stream.push({ tag: 'stream_start', xid: XID, firstSegment: false });
      } else stream.push(item, item.tag === 'message' ? item.lsn : (changeLsn += 0x10n));
    }
    stream.push({ tag: 'stream_stop' });
    const time = new Date(0);
    stream.push(
      {
        tag: 'stream_commit',
        xid: XID,
        flags: 0,
        commitLsn,
        endLsn,
        commitTime: time,
        commitTimeMicros: 0n,
      },
      endLsn,
    );
    return { commitLsn, endLsn };
  }
  function record(dispatcher: DispatcherImpl): string[] {
    const seen: string[] = [];
    dispatcher.onChange((c) => void seen.push(`change ${String(c.id)}@${c.position}`));
    dispatcher.onMessage('app', (m) => void seen.push(`message ${m.text}@${m.position}`));
    return seen;
  }

  it("asks the server which messages the transaction kept when one may be a rolled-back subtransaction's", async () => {
    const asked: unknown[] = [];
    const { dispatcher, stream } = setup({ streaming: true }, (txn) => {
      asked.push(txn);
      // The server's order: message 'top', change 2, message 'after'.
      return Promise.resolve({
        positions: new Map([
          [0x2000n, 0],
          [0x4000n, 2],
        ]),
        total: 3,
      });
    });
    const seen = record(dispatcher);
    const txn = streamed(stream, [
      message(0x2000n, 'top'),
      message(0x3000n, 'sub'), // top-level or the subtransaction's: the stream cannot tell
      insert(1, SUB),
      'abort-sub',
      insert(2, XID),
      message(0x4000n, 'after'),
    ]);
    await dispatcher.start();
    for (let i = 0; i < 100 && stream.flushedLsn < txn.endLsn; i++) await tick();
    expect(asked).toEqual([{ xid: XID, ...txn }]);
    expect(seen).toEqual(['message top@0', 'change 2@1', 'message after@2']);
    expect(stream.acks).toEqual([txn.endLsn]);
    await dispatcher.stop();
  });

  it('does not ask when a change of another subtransaction separates the messages from the rolled-back one', async () => {
    const asked: unknown[] = [];
    const { dispatcher, stream } = setup({ streaming: true }, (txn) => {
      asked.push(txn);
      return Promise.resolve({ positions: new Map(), total: 0 });
    });
    const seen = record(dispatcher);
    const txn = streamed(stream, [
      message(0x2000n, 'top'),
      insert(1, XID),
      insert(2, SUB),
      message(0x3000n, 'sub'), // after the subtransaction's first change: cut with it
      'abort-sub',
      insert(3, XID),
    ]);
    await dispatcher.start();
    for (let i = 0; i < 100 && stream.flushedLsn < txn.endLsn; i++) await tick();
    expect(asked).toEqual([]);
    expect(seen).toEqual(['message top@0', 'change 1@1', 'change 3@2']);
    await dispatcher.stop();
  });

  it('stops with STREAM_FAILED and acknowledges nothing when the server cannot be asked', async () => {
    const { dispatcher, stream } = setup({ streaming: true }, () =>
      Promise.reject(new Error('all replication slots are in use')),
    );
    const seen = record(dispatcher);
    streamed(stream, [message(0x2000n, 'm'), insert(1, SUB), 'abort-sub', insert(2, XID)]);
    await dispatcher.start();
    await expect(dispatcher.closed).rejects.toMatchObject({ code: 'STREAM_FAILED' });
    expect(seen).toEqual([]);
    expect(stream.acks).toEqual([]);
  });

  it('stops with PROTOCOL_ERROR, unacknowledged, when the server kept a message the stream did not bring', async () => {
    const { dispatcher, stream } = setup({ streaming: true }, () =>
      Promise.resolve({
        positions: new Map([
          [0x2000n, 0],
          [0x9000n, 1],
        ]),
        total: 3,
      }),
    );
    streamed(stream, [message(0x2000n, 'm'), insert(1, SUB), 'abort-sub', insert(2, XID)]);
    await dispatcher.start();
    await expect(dispatcher.closed).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    expect(stream.acks).toEqual([]);
  });
});

describe('ignoreOrigins', () => {
  /** A transaction of one row whose Origin message names `origin`; returns its end LSN. */
  function fromOrigin(stream: FakeStream, id: number, origin: string | null): bigint {
    const commitLsn = (lsnCounter += 0x100n);
    const endLsn = commitLsn + 0x30n;
    const time = new Date(0);
    stream.push({
      tag: 'begin',
      finalLsn: commitLsn,
      commitTime: time,
      commitTimeMicros: 0n,
      xid: id,
    });
    if (origin !== null) stream.push({ tag: 'origin', lsn: 0n, name: origin });
    stream.push({ tag: 'insert', relation, new: { id, v: 0 } });
    stream.push(
      { tag: 'commit', flags: 0, commitLsn, endLsn, commitTime: time, commitTimeMicros: 0n },
      endLsn,
    );
    return endLsn;
  }

  const run = async (
    options: Partial<DispatcherOptions>,
  ): Promise<{ seen: unknown[]; acks: bigint[]; last: bigint }> => {
    const { dispatcher, stream } = setup(options);
    const seen: unknown[] = [];
    dispatcher.onChange((change) => void seen.push(change.id));
    stream.push(relation);
    fromOrigin(stream, 1, null);
    fromOrigin(stream, 2, dispatcher.origin);
    fromOrigin(stream, 3, 'subscriber');
    const last = fromOrigin(stream, 4, dispatcher.origin);
    await dispatcher.start();
    await tick();
    await dispatcher.stop();
    return { seen, acks: stream.acks, last };
  };

  it("'own' (default) skips the dispatcher's own origin and still acknowledges it", async () => {
    const { seen, acks, last } = await run({});
    expect(seen).toEqual([1, 3]);
    expect(acks.at(-1)).toBe(last);
  });

  it("'all' skips every origin; a list skips those and the own one", async () => {
    expect((await run({ ignoreOrigins: 'all' })).seen).toEqual([1]);
    expect((await run({ ignoreOrigins: ['subscriber'] })).seen).toEqual([1]);
    expect((await run({ ignoreOrigins: ['elsewhere'] })).seen).toEqual([1, 3]);
  });

  it('rejects an ignoreOrigins that is not own, all or names', () => {
    expect(() => setup({ ignoreOrigins: 'none' as 'all' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});
