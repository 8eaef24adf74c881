import { describe, expect, it } from 'vitest';
import { AckTracker } from './ack-tracker.js';

describe('AckTracker', () => {
  it('runs done-callbacks once and releases them (they may hold a whole backfill chunk)', () => {
    const acknowledged: bigint[] = [];
    const tracker = new AckTracker((lsn) => acknowledged.push(lsn));
    const txn = tracker.open();
    let calls = 0;
    txn.onDone = [() => calls++];
    tracker.commit(txn, 100n);
    expect(acknowledged).toEqual([100n]);
    expect(calls).toBe(1);
    // The acknowledged entry stays queued until compaction: it must not keep its callbacks.
    expect(txn.onDone).toBeNull();
  });
});
