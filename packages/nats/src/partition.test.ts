import { describe, expect, it } from 'vitest';
import { partitionOf } from './partition.js';

describe('partitionOf', () => {
  it('is FNV-1a 32 of the key values joined by U+001F, modulo partitions', () => {
    // Reference values of FNV-1a 32: '' -> 0x811c9dc5, 'a' -> 0xe40c292c, 'foobar' -> 0xbf9cf968.
    expect(partitionOf({ id: 'a' }, 0x7fffffff)).toBe(0xe40c292c % 0x7fffffff);
    expect(partitionOf({ id: 'foobar' }, 1000)).toBe(0xbf9cf968 % 1000);
    expect(partitionOf({ a: 'foo', b: 'bar' }, 1000)).toBe(
      partitionOf({ x: 'foo\u001fbar' }, 1000),
    );
  });
  it('puts keyless changes and a single partition at 0, and numbers like their decimal text', () => {
    expect(partitionOf(null, 8)).toBe(0);
    expect(partitionOf({ id: 7 }, 1)).toBe(0);
    expect(partitionOf({ id: 42 }, 8)).toBe(partitionOf({ id: '42' }, 8));
  });
  it('hashes the UTF-8 bytes of non-ASCII keys, as Buffer.from encodes them', () => {
    const fnv = (text: string): number => {
      let hash = 0x811c9dc5;
      for (const b of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ b, 0x01000193) >>> 0;
      return hash;
    };
    for (const text of ['é', 'ü\u001fñ', '日本語', '😀 x', 'a\ud800b', '\udc00'])
      expect(partitionOf({ id: text }, 0x7fffffff)).toBe(fnv(text) % 0x7fffffff);
  });
});
