import { describe, expect, it } from 'vitest';
import { lostPrimary, provablyNotRun } from './failover.js';
import { createRouter } from './router.js';

describe('failover error classes', () => {
  it('provablyNotRun: refused before sending, or rejected by a node in recovery', () => {
    expect(provablyNotRun({ code: 'ECONNREFUSED' })).toBe(true);
    expect(provablyNotRun({ code: '57P03' })).toBe(true);
    expect(provablyNotRun({ code: 'CONNECT_TIMEOUT' })).toBe(true);
    expect(
      provablyNotRun(
        new Error('Connection terminated due to connection timeout', {
          cause: new Error('x'),
        }),
      ),
    ).toBe(true);
    expect(
      provablyNotRun({
        code: '25006',
        message: 'cannot execute INSERT in a read-only transaction',
      }),
    ).toBe(true);
    expect(provablyNotRun(new Error('wrapped', { cause: { code: 'ECONNREFUSED' } }))).toBe(true);
    // May have committed before the connection broke:
    expect(provablyNotRun(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(provablyNotRun({ code: '57P01' })).toBe(false);
    expect(provablyNotRun({ code: 'ECONNRESET' })).toBe(false);
    expect(provablyNotRun({ code: 'CONNECTION_CLOSED' })).toBe(false);
    // A serialization failure happens on a primary too:
    expect(provablyNotRun({ code: '40001' })).toBe(false);
    expect(provablyNotRun({ code: '23505' })).toBe(false);
  });

  it('lostPrimary: connection errors and standby rejections of writes', () => {
    expect(lostPrimary({ code: '57P01' })).toBe(true);
    expect(lostPrimary({ code: 'ECONNRESET' })).toBe(true);
    expect(lostPrimary({ code: '25006' })).toBe(true);
    expect(lostPrimary({ code: '40001' })).toBe(false);
    expect(lostPrimary({ code: '23505' })).toBe(false);
  });
});

// Nodes that are never queried successfully: option checks only, not server behaviour.
const never = (name: string) => ({
  name,
  handle: name,
  probe: () => Promise.reject(new Error('not used in this test')),
});

describe('following options', () => {
  it('rejects an empty candidate list, duplicate names and a negative failoverMs', () => {
    expect(() => createRouter({ primary: [], replicas: [] })).toThrow(/non-empty list/);
    expect(() =>
      createRouter({ primary: [never('a'), never('a')], replicas: [], failoverMs: 10 }),
    ).toThrow(/unique/);
    expect(() => createRouter({ primary: never('a'), replicas: [], failoverMs: -1 })).toThrow(
      /failoverMs/,
    );
  });

  it('a node given as a candidate and a replica is one node; the first candidate is the primary until discovery says otherwise', () => {
    const [a, b] = [never('a'), never('b')];
    const router = createRouter({ primary: [a, b], replicas: [b], failoverMs: 0 });
    try {
      expect(router.primaryName).toBe('a');
      expect(router.replicaNames).toEqual(['b']);
      expect(router.primaryHandle).toBe('a');
      expect(router.stats().failovers).toBe(0);
    } finally {
      router.close();
    }
  });
});
