import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PgoutputDecodeError } from './errors.js';
import { formatLsn, parseLsn } from './lsn.js';

describe('LSN helpers', () => {
  it('formats and parses the 16/B374D848 form', () => {
    expect(formatLsn(0x16_b374_d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(0xffff_ffff_ffff_ffffn)).toBe('FFFFFFFF/FFFFFFFF');
    expect(parseLsn('16/B374D848')).toBe(0x16_b374_d848n);
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('00000001/0000000a')).toBe(0x1_0000_000an);
  });

  it('round-trips every 64-bit value', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (lsn) => parseLsn(formatLsn(lsn)) === lsn,
      ),
    );
  });

  it('rejects what is not an LSN with INVALID_LSN', () => {
    for (const text of ['', '16', '16/', '/1', 'G/1', '1/123456789', '1/2/3', ' 1 / 2 ']) {
      expect(() => parseLsn(text)).toThrow(PgoutputDecodeError);
    }
    expect(() => parseLsn(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'INVALID_LSN' }),
    );
    expect(() => formatLsn(-1n)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    expect(() => formatLsn(2n ** 64n)).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
    expect(() => formatLsn(1 as unknown as bigint)).toThrow(
      expect.objectContaining({ code: 'INVALID_LSN' }),
    );
  });
});
