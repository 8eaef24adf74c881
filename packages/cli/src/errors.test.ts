import { describe, expect, it } from 'vitest';
import { KoyoCliError, findSqlState, formatError } from './errors.js';

describe('formatError', () => {
  it('prints a PostgreSQL error as one line with its SQLSTATE and hint', () => {
    const pgError = Object.assign(new Error('permission denied to create role'), {
      code: '42501',
      hint: 'Ask a superuser.\nOr not.',
    });
    expect(formatError(pgError)).toBe(
      'permission denied to create role [SQLSTATE 42501] (hint: Ask a superuser. Or not.)',
    );
  });

  it('finds the SQLSTATE on the cause chain, and not in codes like USAGE', () => {
    const wrapped = new KoyoCliError('DATABASE', 'tail failed', {
      cause: Object.assign(new Error('x'), { code: '55006' }),
    });
    expect(wrapped.sqlState).toBe('55006');
    expect(formatError(wrapped)).toBe('tail failed [SQLSTATE 55006]');
    expect(findSqlState(new KoyoCliError('USAGE', 'bad'))).toBeUndefined();
    expect(findSqlState({ sqlState: '3D000' })).toBe('3D000');
  });

  it('turns a refused connection into advice', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port: 1,
    });
    expect(formatError(refused)).toMatch(
      /^cannot connect to PostgreSQL at 127\.0\.0\.1:1: ECONNREFUSED .*Is the server running/,
    );
  });

  it('never prints a stack or a newline', () => {
    expect(formatError(new Error('a\n  b'))).toBe('a b');
    expect(formatError('plain')).toBe('plain');
  });
});
