import { describe, expect, it } from 'vitest';
import { TransactionTracker } from './transaction-tracker.js';

const msg = (tag: string, ...ints: number[]): Buffer => {
  const body = Buffer.alloc(1 + ints.length * 4);
  body.write(tag, 0, 'latin1');
  ints.forEach((n, i) => body.writeInt32BE(n, 1 + i * 4));
  return body;
};

describe('TransactionTracker', () => {
  it('follows begin/commit and streamed transactions', () => {
    const t = new TransactionTracker();
    expect(t.open).toBe(false);
    t.observe(msg('B'));
    expect(t.open).toBe(true);
    t.observe(msg('I'));
    t.observe(msg('C'));
    expect(t.open).toBe(false);
    t.observe(msg('S', 42));
    t.observe(msg('E'));
    expect(t.open).toBe(true);
    t.observe(msg('A', 42, 43)); // a subtransaction abort keeps it open
    expect(t.open).toBe(true);
    t.observe(msg('c', 42));
    expect(t.open).toBe(false);
    t.observe(msg('S', 7));
    t.observe(msg('A', 7, 7));
    expect(t.open).toBe(false);
    t.observe(msg('b'));
    expect(t.open).toBe(true);
    t.observe(msg('P'));
    expect(t.open).toBe(false);
    t.observe(msg('S', 9));
    t.reset();
    expect(t.open).toBe(false);
  });
});
