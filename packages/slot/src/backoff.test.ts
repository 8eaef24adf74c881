import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveReconnect } from './backoff.js';

describe('backoff', () => {
  it('grows exponentially with jitter between half and all of the ceiling, up to the maximum', () => {
    const options = resolveReconnect({ initialDelayMs: 100, maxDelayMs: 1_000 });
    expect(backoffDelay(1, options, () => 0)).toBe(50);
    expect(backoffDelay(1, options, () => 1)).toBe(100);
    expect(backoffDelay(3, options, () => 1)).toBe(400);
    expect(backoffDelay(10, options, () => 0)).toBe(500);
    expect(backoffDelay(10, options, () => 1)).toBe(1_000);
    expect(backoffDelay(1_000, options, () => 0.5)).toBe(750);
    expect(resolveReconnect().maxAttempts).toBe(Number.POSITIVE_INFINITY);
  });
});
