import { describe, expect, it } from 'vitest';
import { encodeStandbyStatusUpdate, parseCopyData } from './framing.js';
import {
  PG_EPOCH_UNIX_MICROS,
  PG_EPOCH_UNIX_MILLIS,
  pgMicrosToUnixMicros,
  pgNowMicros,
  unixMicrosToDate,
} from './time.js';

function frame(kind: string, ...fields: [bits: 8 | 64, value: bigint][]): Buffer {
  const parts = [Buffer.from(kind)];
  for (const [bits, value] of fields) {
    const part = Buffer.alloc(bits / 8);
    if (bits === 8) part[0] = Number(value);
    else part.writeBigInt64BE(BigInt.asIntN(64, value));
    parts.push(part);
  }
  return Buffer.concat(parts);
}

describe('replication framing', () => {
  it('has the PostgreSQL epoch 2000-01-01T00:00:00Z', () => {
    expect(new Date(PG_EPOCH_UNIX_MILLIS).toISOString()).toBe('2000-01-01T00:00:00.000Z');
    expect(PG_EPOCH_UNIX_MICROS).toBe(BigInt(Date.UTC(2000, 0, 1)) * 1000n);
    expect(unixMicrosToDate(pgMicrosToUnixMicros(0n)).toISOString()).toBe(
      '2000-01-01T00:00:00.000Z',
    );
    expect(unixMicrosToDate(pgMicrosToUnixMicros(-1n)).toISOString()).toBe(
      '1999-12-31T23:59:59.999Z',
    );
    expect(unixMicrosToDate(1_700_000_000_123_999n).toISOString()).toBe('2023-11-14T22:13:20.123Z');
  });

  it('parses XLogData: positions, send time and a payload view', () => {
    const body = Buffer.concat([
      frame('w', [64, 0x16_b374_d848n], [64, 0xffff_ffff_ffff_fff0n], [64, 123_456n]),
      Buffer.from('Bpayload'),
    ]);
    const parsed = parseCopyData(body);
    expect(parsed).toEqual({
      tag: 'xlogdata',
      walStart: 0x16_b374_d848n,
      walEnd: 0xffff_ffff_ffff_fff0n,
      sendTime: 123_456n,
      payload: Buffer.from('Bpayload'),
    });
    if (parsed.tag !== 'xlogdata') throw new Error('not xlogdata');
    expect(parsed.payload.buffer).toBe(body.buffer);
    expect(parseCopyData(new Uint8Array(body))).toEqual(parsed);
  });

  it('parses a primary keepalive', () => {
    expect(parseCopyData(frame('k', [64, 42n], [64, -5n], [8, 1n]))).toEqual({
      tag: 'keepalive',
      walEnd: 42n,
      sendTime: -5n,
      replyRequested: true,
    });
    expect(parseCopyData(frame('k', [64, 42n], [64, 7n], [8, 0n]))).toMatchObject({
      replyRequested: false,
    });
  });

  it('rejects short, long and unknown frames with PgoutputDecodeError', () => {
    expect(() => parseCopyData(Buffer.alloc(0))).toThrow(
      expect.objectContaining({ name: 'PgoutputDecodeError', code: 'TRUNCATED' }),
    );
    expect(() => parseCopyData(Buffer.from('w123'))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', tag: 'xlogdata' }),
    );
    expect(() => parseCopyData(frame('k', [64, 1n], [64, 1n]))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED', tag: 'keepalive' }),
    );
    expect(() =>
      parseCopyData(Buffer.concat([frame('k', [64, 1n], [64, 1n], [8, 0n]), Buffer.from('x')])),
    ).toThrow(expect.objectContaining({ code: 'TRAILING_BYTES' }));
    expect(() => parseCopyData(Buffer.from('r1234'))).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_FRAME', offset: 0 }),
    );
    expect(() => parseCopyData('w' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });

  it('encodes a standby status update', () => {
    const body = Buffer.from(
      encodeStandbyStatusUpdate({
        written: 3n,
        flushed: 2n,
        applied: 1n,
        clock: -7n,
        replyRequested: true,
      }),
    );
    expect(body).toEqual(
      Buffer.concat([frame('r', [64, 3n], [64, 2n], [64, 1n], [64, -7n], [8, 1n])]),
    );
    expect(body).toHaveLength(34);
  });

  it('stamps a status update with the current time since 2000-01-01 by default', () => {
    const before = BigInt(Date.now()) * 1000n - PG_EPOCH_UNIX_MICROS;
    const body = Buffer.from(encodeStandbyStatusUpdate({ written: 0n, flushed: 0n, applied: 0n }));
    const after = pgNowMicros();
    const clock = body.readBigInt64BE(25);
    expect(clock).toBeGreaterThanOrEqual(before);
    expect(clock).toBeLessThanOrEqual(after);
    expect(body[33]).toBe(0);
  });

  it('rejects positions outside 0..2^64-1 and bad clocks', () => {
    expect(() => encodeStandbyStatusUpdate({ written: -1n, flushed: 0n, applied: 0n })).toThrow(
      expect.objectContaining({ code: 'INVALID_LSN' }),
    );
    expect(() =>
      encodeStandbyStatusUpdate({ written: 0n, flushed: 2n ** 64n, applied: 0n }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    expect(() =>
      encodeStandbyStatusUpdate({ written: 0n, flushed: 0n, applied: 1 as unknown as bigint }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    expect(() =>
      encodeStandbyStatusUpdate({ written: 0n, flushed: 0n, applied: 0n, clock: 2n ** 63n }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});
