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
});
