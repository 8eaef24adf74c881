import { describe, expect, it } from 'vitest';
import {
  CHUNK_BYTES,
  ChunkSizer,
  FIRST_CHUNK_ROWS,
  MAX_CHUNK_ROWS,
  MIN_CHUNK_ROWS,
} from './backfill-chunk-sizer.js';

describe('ChunkSizer', () => {
  it('keeps a fixed chunkSize whatever the rows weigh, and records it', () => {
    const sizer = new ChunkSizer(500);
    sizer.read(500, 500 * 1_000_000);
    expect(sizer.next()).toBe(500);
    expect(sizer.recorded).toBe(500);
  });

  it('sizes chunks by the average row seen so far, within bounds, and records 0', () => {
    const sizer = new ChunkSizer(undefined);
    expect(sizer.recorded).toBe(0);
    expect(sizer.next()).toBe(FIRST_CHUNK_ROWS);
    sizer.read(1000, 1000 * 1024); // 1 KiB rows
    expect(sizer.next()).toBe(CHUNK_BYTES / 1024);
    sizer.read(4096, 4096 * 3 * 1024); // heavier rows pull the average up
    expect(sizer.next()).toBe(Math.floor((CHUNK_BYTES * 5096) / (1000 * 1024 + 4096 * 3 * 1024)));
    const narrow = new ChunkSizer(undefined);
    narrow.read(1000, 8000);
    expect(narrow.next()).toBe(MAX_CHUNK_ROWS);
    const wide = new ChunkSizer(undefined);
    wide.read(1000, 1000 * 10 * 2 ** 20);
    expect(wide.next()).toBe(MIN_CHUNK_ROWS);
  });
});
