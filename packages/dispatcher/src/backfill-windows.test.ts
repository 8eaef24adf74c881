import { describe, expect, it } from 'vitest';
import { BackfillWindows, type SnapshotRows } from './backfill-windows.js';
import { sliceRows } from './snapshot-delivery.js';

const shape = { schema: 'public', table: 't', keyColumns: ['id'], changeKey: ['id'] };

/** Rows that count how often they were recycled. */
function rows(): SnapshotRows & { recycled: number } {
  const out = {
    length: 2,
    recycled: 0,
    row: (index: number) => ({ id: index }),
    recycle: () => void out.recycled++,
  };
  return out;
}

describe('BackfillWindows recycling', () => {
  it('recycles the rows of a chunk when it settles', async () => {
    const windows = new BackfillWindows();
    const outcome = windows.add('c1', shape);
    const chunkRows = rows();
    windows.fill('c1', chunkRows);
    windows.cancel('c1');
    await expect(outcome).resolves.toEqual({ redo: false, delivered: 0 });
    expect(chunkRows.recycled).toBe(1);
  });

  it('recycles the rows of a chunk that fails, and reports it gone', async () => {
    const windows = new BackfillWindows();
    const outcome = windows.add('c1', shape);
    outcome.catch(() => undefined);
    const chunkRows = rows();
    windows.fill('c1', chunkRows);
    windows.mark({ prefix: 'koyo.backfill', text: 'c1:low' } as never);
    const chunk = windows.mark({ prefix: 'koyo.backfill', text: 'c1:high' } as never)!;
    expect(windows.isLive(chunk)).toBe(true);
    expect(chunkRows.recycled).toBe(0);
    windows.failAll(new Error('the dispatcher stops'));
    await expect(outcome).rejects.toThrow('the dispatcher stops');
    expect(windows.isLive(chunk)).toBe(false);
    expect(chunkRows.recycled).toBe(1);
    expect(windows.rowsToDeliver(chunk)).toBeNull();
  });
});

describe('sliceRows', () => {
  const of = (length: number, byteLength?: number): SnapshotRows =>
    byteLength === undefined
      ? { length, row: () => ({}) }
      : { length, byteLength, row: () => ({}) };

  it('builds 1,000 narrow rows at a time, fewer wide ones, one at least', () => {
    expect(sliceRows(of(24_000, 24_000 * 85))).toBe(1000);
    expect(sliceRows(of(500, 500 * 4000))).toBe(65);
    expect(sliceRows(of(10, 10 * 5_000_000))).toBe(1);
    expect(sliceRows(of(100))).toBe(1000);
    expect(sliceRows(of(0, 0))).toBe(1000);
  });
});
