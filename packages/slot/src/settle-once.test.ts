import { describe, expect, it } from 'vitest';
import { SettleOnce } from './settle-once.js';

describe('SettleOnce', () => {
  it('settles once: a later reject does not change a resolve', async () => {
    const once = new SettleOnce();
    expect(once.settled).toBe(false);
    once.resolve();
    once.reject(new Error('late'));
    expect(once.settled).toBe(true);
    await expect(once.promise).resolves.toBeUndefined();
  });

  it('rejects with the first error', async () => {
    const once = new SettleOnce();
    once.reject(new Error('first'));
    once.reject(new Error('second'));
    once.resolve();
    await expect(once.promise).rejects.toThrow('first');
  });
});
