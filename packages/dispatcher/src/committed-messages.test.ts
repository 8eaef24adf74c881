// The payload side of reading a committed transaction back: which pgoutput payloads are its
// transactional logical messages (the SQL side is tested against PostgreSQL in
// test/streaming-differential.test.ts).
import { describe, expect, it } from 'vitest';
import { transactionalMessageLsns } from './committed-messages.js';

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

describe('transactionalMessageLsns', () => {
  it('keeps the LSN of each transactional message and ignores everything else', () => {
    const begin = Buffer.from([0x42, ...new Array<number>(20).fill(0)]);
    const lsns = transactionalMessageLsns([
      begin,
      messagePayload(0x1_0000_2000n, true),
      messagePayload(0x3000n, false),
      messagePayload(0x4000n, true, 'other'),
    ]);
    expect([...lsns]).toEqual([0x1_0000_2000n, 0x4000n]);
  });

  it('is empty for no payloads', () => {
    expect(transactionalMessageLsns([]).size).toBe(0);
  });
});
