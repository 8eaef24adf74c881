import { describe, expect, it } from 'vitest';
import { isoMicros } from './_time.js';

describe('isoMicros', () => {
  it('keeps microseconds', () => {
    expect(isoMicros(1_714_557_600_123_456n)).toBe('2024-05-01T10:00:00.123456Z');
    expect(isoMicros(1_714_557_600_000_001n)).toBe('2024-05-01T10:00:00.000001Z');
    expect(isoMicros(0n)).toBe('1970-01-01T00:00:00.000000Z');
  });
  it('handles times before 1970', () => {
    expect(isoMicros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(isoMicros(-1_000_001n)).toBe('1969-12-31T23:59:58.999999Z');
  });
});
