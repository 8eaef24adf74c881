import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { ChunkDecoder, ChunkRows } from './backfill-chunk-read.js';

const shape = {
  schema: 'public',
  table: 't',
  keyColumns: ['id'],
  changeKey: ['id'],
  keyTypes: ['integer'],
  columns: ['id', 'name'],
  parserTypes: [23, 25],
  rowFilter: null,
  estimatedRows: null,
};

/** CopyData messages of `lines`, back to back, and where each one starts. */
function messages(lines: string[]): { bytes: Buffer; starts: number[] } {
  const starts: number[] = [];
  const parts = lines.map((line) => {
    const body = Buffer.from(`${line}\n`);
    const out = Buffer.alloc(5 + body.length);
    out[0] = 0x64;
    out.writeUInt32BE(4 + body.length, 1);
    body.copy(out, 5);
    return out;
  });
  let at = 0;
  for (const part of parts) {
    starts.push(at);
    at += part.length;
  }
  return { bytes: Buffer.concat(parts), starts };
}

describe('ChunkRows', () => {
  const lines = Array.from({ length: 500 }, (_, i) => `${i + 1}\t${'é'.repeat(i % 40)}x${i}`);
  const expected = lines.map((_, i) => ({ id: i + 1, name: `${'é'.repeat(i % 40)}x${i}` }));
  const { bytes, starts } = messages(lines);

  /** The rows pushed in runs of `run` messages, each from a buffer with bytes around it. */
  function pushed(run: number): ChunkRows {
    const rows = new ChunkRows(new ChunkDecoder(shape, undefined));
    for (let first = 0; first < lines.length; first += run) {
      const last = Math.min(lines.length, first + run) - 1;
      const from = starts[first]!;
      const to = last + 1 < lines.length ? starts[last + 1]! : bytes.length;
      const padded = Buffer.concat([
        Buffer.from('junk'),
        bytes.subarray(from, to),
        Buffer.from('!'),
      ]);
      rows.push(padded, 4, 4 + to - from, last - first + 1, 4 + starts[last]! - from);
    }
    rows.end();
    return rows;
  }

  it.each([1, 7, 64, 500])('keeps runs of %i rows: count, bytes, last key', (run) => {
    const rows = pushed(run);
    expect(rows.length).toBe(500);
    expect(rows.byteLength).toBe(bytes.length - 5 * 500);
    expect(rows.lastKey()).toStrictEqual(['500']);
    expect(Array.from({ length: 500 }, (_, i) => rows.row(i))).toStrictEqual(expected);
  });

  it("decodes a row's key columns alone, as the whole row has them", () => {
    const rows = pushed(50);
    for (const index of [0, 1, 2, 250, 100, 499])
      expect(rows.key(index)).toStrictEqual({ id: expected[index]!.id });
    expect(rows.row(3)).toStrictEqual(expected[3]);
  });

  it('finds rows asked for out of order, skipped or again', () => {
    const rows = pushed(33);
    for (const index of [0, 0, 5, 4, 499, 250, 251, 1, 498, 0])
      expect(rows.row(index)).toStrictEqual(expected[index]);
  });

  it('refuses an index outside the chunk', () => {
    const rows = pushed(10);
    expect(() => rows.row(500)).toThrow(RangeError);
    expect(() => rows.row(-1)).toThrow(RangeError);
    expect(new ChunkRows(new ChunkDecoder(shape, undefined)).lastKey()).toBeNull();
  });

  it('reports a row that does not decode with the table it belongs to', () => {
    const rows = new ChunkRows(new ChunkDecoder(shape, undefined));
    const bad = messages(['1\tok', '2\ty\tz']);
    rows.push(bad.bytes, 0, bad.bytes.length, 2, bad.starts[1]!);
    expect(rows.row(0)).toStrictEqual({ id: 1, name: 'ok' });
    expect(() => rows.row(1)).toThrow(/Backfill of public\.t: a row could not be decoded/);
  });

  it("recycles a finished chunk's buffer for the table's next chunk, and reads nothing after", () => {
    const decoder = new ChunkDecoder(shape, undefined);
    const first = new ChunkRows(decoder);
    first.push(bytes, 0, bytes.length, 500, starts[499]!);
    first.end();
    first.recycle();
    first.recycle(); // once only: the buffer is not handed out twice
    expect(() => first.row(0)).toThrow(/recycled/);
    expect(() => first.lastKey()).toThrow(/recycled/);
    const second = new ChunkRows(decoder);
    const third = new ChunkRows(decoder);
    const other = messages(['7\tseven', '8\teight']);
    second.push(other.bytes, 0, other.bytes.length, 2, other.starts[1]!);
    third.push(bytes, 0, bytes.length, 500, starts[499]!);
    expect([second.row(0), second.row(1)]).toStrictEqual([
      { id: 7, name: 'seven' },
      { id: 8, name: 'eight' },
    ]);
    expect(third.row(499)).toStrictEqual(expected[499]);
  });

  it('hands a spare buffer out once, only when it is large enough, and keeps the latest two', () => {
    const decoder = new ChunkDecoder(shape, undefined);
    const small = Buffer.alloc(10);
    const big = Buffer.alloc(1000);
    decoder.give(small);
    decoder.give(big);
    expect(decoder.take(100)).toBe(big); // past the small one, which stays
    expect(decoder.take(100)).not.toBe(big);
    expect(decoder.take(10)).toBe(small);
    const [a, b, c] = [Buffer.alloc(100), Buffer.alloc(100), Buffer.alloc(100)];
    decoder.give(a);
    decoder.give(b);
    decoder.give(c);
    const taken = [decoder.take(100), decoder.take(100), decoder.take(100)];
    expect(taken[0]).toBe(b); // a was let go
    expect(taken[1]).toBe(c);
    expect([a, b, c]).not.toContain(taken[2]);
  });

  it('refuses rows pushed after the chunk was recycled', () => {
    const rows = new ChunkRows(new ChunkDecoder(shape, undefined));
    rows.recycle();
    expect(() => rows.push(bytes, 0, bytes.length, 500, starts[499]!)).toThrow(/recycled/);
  });
});
