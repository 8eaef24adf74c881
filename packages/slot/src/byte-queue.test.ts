import { describe, expect, it } from 'vitest';
import { ByteBoundedQueue } from './byte-queue.js';

interface Item {
  id: number;
  size: number;
}

function queue(limit: number, canPause = true) {
  const calls: string[] = [];
  const q = new ByteBoundedQueue<Item>(limit, {
    pause: () => {
      calls.push('pause');
      return canPause;
    },
    resume: () => calls.push('resume'),
  });
  return { q, calls };
}

describe('ByteBoundedQueue', () => {
  it('is first in, first out and counts bytes', () => {
    const { q } = queue(100);
    q.push({ id: 1, size: 10 });
    q.push({ id: 2, size: 0 });
    q.push({ id: 3, size: 5 });
    expect(q.bytes).toBe(15);
    expect(q.length).toBe(3);
    expect([q.shift()?.id, q.shift()?.id, q.shift()?.id, q.shift()]).toEqual([1, 2, 3, undefined]);
    expect(q.bytes).toBe(0);
    expect(q.length).toBe(0);
  });

  it('pauses at the limit and resumes at half of it', () => {
    const { q, calls } = queue(100);
    q.push({ id: 1, size: 60 });
    expect(q.paused).toBe(false);
    q.push({ id: 2, size: 40 }); // 100: full
    expect(q.paused).toBe(true);
    q.push({ id: 3, size: 20 }); // still accepted while paused, no second pause
    expect(calls).toEqual(['pause']);
    q.shift(); // 60 left: above half
    expect(q.paused).toBe(true);
    q.shift(); // 20 left
    expect(q.paused).toBe(false);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('stays unpaused when there is nothing to pause, and tries again on the next push', () => {
    const { q, calls } = queue(10, false);
    q.push({ id: 1, size: 10 });
    q.push({ id: 2, size: 1 });
    expect(q.paused).toBe(false);
    expect(calls).toEqual(['pause', 'pause']);
  });

  it('clear drops items and bytes but keeps the pause; forgetPause ends it without resuming', () => {
    const { q, calls } = queue(10);
    q.push({ id: 1, size: 10 });
    q.clear();
    expect([q.bytes, q.length, q.shift(), q.paused]).toEqual([0, 0, undefined, true]);
    q.forgetPause();
    expect(q.paused).toBe(false);
    expect(calls).toEqual(['pause']);
  });

  it('keeps order across compaction of a long queue', () => {
    const { q } = queue(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < 10_000; i++) q.push({ id: i, size: 1 });
    const seen: number[] = [];
    for (let i = 0; i < 6_000; i++) seen.push(q.shift()!.id);
    for (let i = 10_000; i < 12_000; i++) q.push({ id: i, size: 1 });
    for (let item = q.shift(); item; item = q.shift()) seen.push(item.id);
    expect(seen).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
    expect(q.bytes).toBe(0);
  });
});
