import { describe, expect, it } from 'vitest';
import { formatBytes, progressBar, redactUrl, renderTable, toJson } from './format.js';

describe('format helpers', () => {
  it('formats sizes like pg_size_pretty', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MB');
  });

  it('hides passwords', () => {
    expect(redactUrl('postgres://app:s3cret@db:5432/shop')).toBe('postgres://app:***@db:5432/shop');
    expect(redactUrl('postgres://app@db/shop')).toBe('postgres://app@db/shop');
  });

  it('writes bigints and bytes as JSON text', () => {
    expect(toJson({ n: 12n, b: Buffer.from([1, 255]), d: new Date(0) })).toBe(
      '{"n":"12","b":"\\\\x01ff","d":"1970-01-01T00:00:00.000Z"}',
    );
  });

  it('aligns tables and clamps progress', () => {
    expect(renderTable(['A', 'BB'], [['xyz', '1']])).toBe('A    BB\nxyz  1\n');
    expect(progressBar(0.5, 4)).toBe('[██░░]');
    expect(progressBar(7, 2)).toBe('[██]');
    expect(progressBar(Number.NaN, 2)).toBe('[░░]');
  });
});
