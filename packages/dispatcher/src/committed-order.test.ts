// The pure side of reading a committed transaction back: which payloads are transactional
// messages, and how streamed items are put in the committed order (the SQL side is tested
// against PostgreSQL in test/streaming-differential.test.ts).
import { describe, expect, it } from 'vitest';
import { CommittedArrangement, transactionalMessageLsn } from './committed-order.js';
import type { StreamedItem } from './streamed-txn.js';
import type { Change, LogicalMessage } from './types.js';

/** A protocol-1 'M' payload: flags, LSN, prefix, content. */
function messagePayload(lsn: bigint, transactional: boolean, prefix = 'app'): Buffer {
  const content = Buffer.from('payload');
  const head = Buffer.alloc(10);
  head.write('M', 0, 'latin1');
  head.writeUInt8(transactional ? 1 : 0, 1);
  head.writeBigUInt64BE(lsn, 2);
  const length = Buffer.alloc(4);
  length.writeInt32BE(content.length, 0);
  return Buffer.concat([head, Buffer.from(`${prefix}\0`), length, content]);
}

describe('transactionalMessageLsn', () => {
  it("is a transactional message's LSN, and null for anything else", () => {
    expect(transactionalMessageLsn(messagePayload(0x1_0000_2000n, true))).toBe(0x1_0000_2000n);
    expect(transactionalMessageLsn(messagePayload(0x4000n, true, 'other'))).toBe(0x4000n);
    expect(transactionalMessageLsn(messagePayload(0x3000n, false))).toBeNull();
    expect(
      transactionalMessageLsn(Buffer.from([0x42, ...new Array<number>(20).fill(0)])),
    ).toBeNull();
  });
});

const change = (lsn: bigint): StreamedItem => ({ kind: 'change', value: {} as Change, lsn });
const message = (lsn: bigint): StreamedItem => ({
  kind: 'message',
  value: {} as LogicalMessage,
  lsn,
});
const label = (placed: { item: StreamedItem; position: number }[]): string[] =>
  placed.map(({ item, position }) => `${item.kind[0]}${item.lsn}@${position}`);

describe('CommittedArrangement', () => {
  it('drops messages the transaction did not keep and numbers the rest as the server does', () => {
    const arrangement = new CommittedArrangement({ positions: new Map([[20n, 1]]), total: 3 });
    const out = [message(10n), message(20n), change(30n), change(40n)].flatMap((i) =>
      arrangement.place(i),
    );
    expect(label(out)).toEqual(['c30@0', 'm20@1', 'c40@2']);
    expect(arrangement.complete).toBe(true);
  });

  it('puts a message the stream sent after a tied change back before it', () => {
    // The server, without streaming: message (ends at 50) then the change starting at 50.
    const arrangement = new CommittedArrangement({ positions: new Map([[50n, 1]]), total: 3 });
    const out = [change(40n), change(50n), message(50n)].flatMap((i) => arrangement.place(i));
    expect(label(out)).toEqual(['c40@0', 'm50@1', 'c50@2']);
    expect(arrangement.complete).toBe(true);
  });

  it('is incomplete when a kept message or a change never came', () => {
    const missingMessage = new CommittedArrangement({ positions: new Map([[5n, 0]]), total: 2 });
    expect(missingMessage.place(change(10n))).toEqual([]);
    expect(missingMessage.complete).toBe(false);
    const missingChange = new CommittedArrangement({ positions: new Map(), total: 2 });
    missingChange.place(change(10n));
    expect(missingChange.complete).toBe(false);
  });
});
