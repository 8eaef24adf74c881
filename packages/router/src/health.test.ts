import { describe, expect, it } from 'vitest';
import { isConnectionError, sqlstateOf } from './health.js';

describe('connection errors', () => {
  it('are told from statement errors by code and by pg message', () => {
    expect(isConnectionError({ code: 'ECONNREFUSED' })).toBe(true);
    expect(isConnectionError({ code: '08006' })).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError({ code: '23505' })).toBe(false);
    expect(isConnectionError(null)).toBe(false);
  });

  it('are found behind a wrapping error (an ORM error whose cause is the driver error)', () => {
    const wrapped = new Error('Failed query: select 1', {
      cause: Object.assign(new Error('terminating connection'), { code: '57P01' }),
    });
    expect(isConnectionError(wrapped)).toBe(true);
    expect(sqlstateOf(wrapped)).toBe('57P01');
    expect(sqlstateOf(new Error('x', { cause: { code: '25006' } }))).toBe('25006');
    expect(isConnectionError(new Error('Failed query', { cause: { code: '23505' } }))).toBe(false);
  });

  it('stop at a cyclic cause chain', () => {
    const a: { code?: string; cause?: unknown } = {};
    const b = { cause: a };
    a.cause = b;
    expect(isConnectionError(a)).toBe(false);
    expect(sqlstateOf(a)).toBeUndefined();
  });
});
