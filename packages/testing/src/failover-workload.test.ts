import { describe, expect, it } from 'vitest';
import { runWorkload } from './failover-workload.js';
import { until } from './test-helpers.js';

/** A turn of the event loop, as a statement's network round trip gives (timers run meanwhile). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('runWorkload', () => {
  it('writes ids from 1 in order, records failures apart from acknowledgements, and stops', async () => {
    let reads = 0;
    const w = runWorkload(
      async (id) => {
        await turn();
        if (id % 3 === 0) throw new Error(`write ${id} failed`);
        return 5000 + id;
      },
      async () => {
        await turn();
        if (++reads % 4 === 0) throw new Error('read failed');
      },
      2,
    );
    await until(() => w.acked.length >= 10 && w.failedReads.length >= 2, 'some work');
    await w.stop();
    const acked = w.acked.length;
    expect(w.acked.map((a) => a.id)).toEqual(w.acked.map((a) => a.id).sort((a, b) => a - b));
    expect(w.acked.every((a) => a.id % 3 !== 0 && a.port === 5000 + a.id)).toBe(true);
    expect(w.failedWrites.every((f) => f.id % 3 === 0)).toBe(true);
    expect(w.reads.length + w.failedReads.length).toBe(reads);
    // Stopped: nothing runs any more.
    await turn();
    expect(w.acked.length).toBe(acked);
  });
});
