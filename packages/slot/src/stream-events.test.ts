import { describe, expect, it } from 'vitest';
import { KoyoSlotError } from './errors.js';
import {
  EventDecoder,
  frameItem,
  MESSAGE_OVERHEAD,
  type StartItem,
  type StreamItem,
} from './stream-events.js';

/** pgoutput payloads, byte for byte as the server sends them. */
const cstring = (text: string): Buffer => Buffer.from(`${text}\0`, 'utf8');
const u8 = (n: number): Buffer => Buffer.from([n]);
const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const relation = Buffer.concat([
  Buffer.from('R'),
  u32(16384),
  cstring('public'),
  cstring('orders'),
  Buffer.from('d'),
  u16(1),
  u8(1),
  cstring('id'),
  u32(23),
  i32(-1),
]);
const insert = Buffer.concat([
  Buffer.from('I'),
  u32(16384),
  Buffer.from('N'),
  u16(1),
  Buffer.from('t'),
  i32(2),
  Buffer.from('42'),
]);
const streamStart = Buffer.concat([Buffer.from('S'), u32(7), u8(1)]);

const start = (protocolVersion: 1 | 2, reconnect: boolean): StartItem => ({
  frame: false,
  size: 0,
  reconnect,
  startLsn: 0x10n,
  attempt: reconnect ? 2 : 0,
  protocolVersion,
});

function decodeAll(decoder: EventDecoder, items: StreamItem[]) {
  return items.map((item) => decoder.toEvent(item));
}

describe('frameItem', () => {
  it('copies the payload (pg reuses its buffer) and counts the overhead', () => {
    const source = Buffer.from(insert);
    const item = frameItem(source, 5n, 9n);
    source.fill(0);
    expect(item.payload.equals(insert)).toBe(true);
    expect(item).toMatchObject({ frame: true, lsn: 5n, walEnd: 9n });
    expect(item.size).toBe(insert.length + MESSAGE_OVERHEAD);
  });
});

describe('EventDecoder', () => {
  it('decodes frames into message events; the first start is silent, later ones are reconnected events', () => {
    const decoder = new EventDecoder({ binary: false });
    const events = decodeAll(decoder, [
      start(1, false),
      frameItem(relation, 0n, 0n),
      frameItem(insert, 0x20n, 0x30n),
      start(1, true),
    ]);
    expect(events[0]).toBeUndefined();
    expect(events[1]).toMatchObject({
      kind: 'message',
      message: { tag: 'relation', name: 'orders' },
    });
    expect(events[2]).toMatchObject({
      kind: 'message',
      lsn: 0x20n,
      walEnd: 0x30n,
      message: { tag: 'insert', new: { id: 42 } },
    });
    expect(events[3]).toEqual({ kind: 'reconnected', startLsn: 0x10n, attempt: 2 });
  });

  it('forgets relations at every start: an insert after a reconnect needs its relation again', () => {
    const decoder = new EventDecoder({ binary: false });
    decodeAll(decoder, [start(1, false), frameItem(relation, 0n, 0n), start(1, true)]);
    const error = (() => {
      try {
        decoder.toEvent(frameItem(insert, 0x40n, 0x40n));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(KoyoSlotError);
    expect(error).toMatchObject({ code: 'DECODE_FAILED' });
  });

  it('follows the protocol version of each connection and the parse option', () => {
    const decoder = new EventDecoder({ binary: false, parse: false });
    decoder.toEvent(start(1, false));
    decoder.toEvent(frameItem(relation, 0n, 0n));
    expect(decoder.toEvent(frameItem(insert, 0n, 0n))).toMatchObject({
      message: { new: { id: '42' } },
    });
    expect(() => decoder.toEvent(frameItem(streamStart, 0n, 0n))).toThrow(KoyoSlotError);
    decoder.toEvent(start(2, true));
    expect(decoder.toEvent(frameItem(streamStart, 0n, 0n))).toMatchObject({
      message: { tag: 'stream_start', xid: 7 },
    });
  });
});
