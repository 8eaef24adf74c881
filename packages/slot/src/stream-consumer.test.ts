import { describe, expect, it } from 'vitest';
import type { PgoutputMessage } from '@koyo/pgoutput';
import { KoyoSlotError } from './errors.js';
import { StreamConsumer, type ConsumerSource } from './stream-consumer.js';
import type { ReplicationEvent, StreamItem } from './stream-events.js';

const item = (lsn: bigint): StreamItem => ({
  frame: true,
  payload: Buffer.alloc(0),
  lsn,
  walEnd: lsn,
  size: 0,
});

/** A source over an array: each item becomes a message event at its LSN, `0xbadn` fails. */
function source(items: StreamItem[]): ConsumerSource & { stops: number; decodeErrors: number } {
  const result = {
    stops: 0,
    decodeErrors: 0,
    shift: () => items.shift(),
    toEvent: (it: StreamItem): ReplicationEvent | undefined => {
      if (!it.frame) return undefined;
      if (it.lsn === 0xbadn) throw new KoyoSlotError('DECODE_FAILED', 'bad payload');
      return {
        kind: 'message',
        lsn: it.lsn,
        walEnd: it.walEnd,
        message: { tag: 'stream_stop' } as PgoutputMessage,
      };
    },
    onDecodeError: () => {
      result.decodeErrors++;
    },
    stop: async () => {
      result.stops++;
    },
  };
  return result;
}

describe('StreamConsumer', () => {
  it('hands out buffered events, waits for more when woken, and ends after close', async () => {
    const items = [item(0x20n), item(0x10n)];
    const consumer = new StreamConsumer(source(items));
    const it = consumer.iterator();
    expect(await it.next()).toMatchObject({ done: false, value: { lsn: 0x20n } });
    expect(await it.next()).toMatchObject({ done: false, value: { lsn: 0x10n } });
    expect(consumer.delivered).toBe(0x20n);
    const waiting = it.next();
    items.push(item(0x30n));
    consumer.wake();
    expect(await waiting).toMatchObject({ done: false, value: { lsn: 0x30n } });
    const ending = it.next();
    consumer.close();
    expect(await ending).toEqual({ done: true, value: undefined });
  });

  it('throws the fatal error once the buffer is drained, and only the first one', async () => {
    const consumer = new StreamConsumer(source([item(0x10n)]));
    const first = new KoyoSlotError('SLOT_INVALIDATED', 'gone');
    expect(consumer.fail(first)).toBe(true);
    expect(consumer.fail(new KoyoSlotError('STREAM_CLOSED', 'later'))).toBe(false);
    const it = consumer.iterator();
    expect(await it.next()).toMatchObject({ done: false, value: { lsn: 0x10n } });
    await expect(it.next()).rejects.toBe(first);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('fails and stops the stream when an item does not decode', async () => {
    const src = source([item(0xbadn), item(0x10n)]);
    const it = new StreamConsumer(src).iterator();
    await expect(it.next()).rejects.toMatchObject({ code: 'DECODE_FAILED' });
    expect(src).toMatchObject({ decodeErrors: 1, stops: 1 });
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('allows one iterator; leaving the loop early stops the stream', async () => {
    const src = source([]);
    const consumer = new StreamConsumer(src);
    const it = consumer.iterator();
    expect(() => consumer.iterator()).toThrow(KoyoSlotError);
    expect(await it.return!()).toEqual({ done: true, value: undefined });
    expect(src.stops).toBe(1);
  });

  it('no longer accepts a fatal error after it was closed', () => {
    const consumer = new StreamConsumer(source([]));
    consumer.close();
    expect(consumer.fail(new KoyoSlotError('STREAM_CLOSED', 'x'))).toBe(false);
  });
});
