import { describe, expect, it } from 'vitest';
import {
  PG_EPOCH_UNIX_MICROS,
  PG_EPOCH_UNIX_MILLIS,
  pgMicrosToUnixMicros,
  unixMicrosToDate,
} from './time.js';

describe('pgoutput time', () => {
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
});
