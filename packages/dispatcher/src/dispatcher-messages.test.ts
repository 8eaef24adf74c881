// The engine fed with synthetic pgoutput messages (no server): streamed transactions with logical
// messages, and ignoreOrigins. Every behaviour here is also tested against PostgreSQL in test/.
import { describe, expect, it } from 'vitest';
import type { PgoutputMessage } from '@koyo/pgoutput';
import type { DispatcherImpl } from './dispatcher.js';
import type { DispatcherOptions } from './options.js';
import { nextLsn, relation, setup, tick, type FakeStream } from '../test/fake-backend.js';

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
    const commitLsn = nextLsn(0x1000n);
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
    const commitLsn = nextLsn(0x100n);
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
