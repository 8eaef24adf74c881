import { describe, expect, it } from 'vitest';
import { standbyRejection } from './standby-errors.js';

describe('standbyRejection', () => {
  it('recognises 25006 and 40001 by SQLSTATE alone', () => {
    expect(
      standbyRejection({
        code: '25006',
        message: 'cannot execute INSERT in a read-only transaction',
      }),
    ).toBe('25006');
    expect(
      standbyRejection({
        code: '40001',
        message: 'canceling statement due to conflict with recovery',
      }),
    ).toBe('40001');
  });

  it('recognises 55000, XX000, 0A000 and 40P01 only with a recovery message', () => {
    expect(standbyRejection({ code: '55000', message: 'recovery is in progress' })).toBe('55000');
    expect(
      standbyRejection({ code: 'XX000', message: 'cannot assign TransactionIds during recovery' }),
    ).toBe('XX000');
    expect(standbyRejection({ code: 'XX000', message: 'cannot assign OIDs during recovery' })).toBe(
      'XX000',
    );
    expect(
      standbyRejection({ code: '0A000', message: 'cannot create a restore point during recovery' }),
    ).toBe('0A000');
    expect(
      standbyRejection({
        code: '40P01',
        message: 'canceling statement due to conflict with recovery',
      }),
    ).toBe('40P01');
    expect(standbyRejection({ code: '55000', message: 'object is busy' })).toBeUndefined();
    expect(standbyRejection({ code: 'XX000', message: 'could not open file' })).toBeUndefined();
    expect(standbyRejection({ code: '40P01', message: 'deadlock detected' })).toBeUndefined();
    expect(
      standbyRejection({ code: '55000', message: 'recovery is not in progress' }),
    ).toBeUndefined();
  });

  it('never by message alone, and looks through the cause chain', () => {
    expect(standbyRejection(new Error('recovery is in progress'))).toBeUndefined();
    expect(standbyRejection({ code: '23505', message: 'during recovery' })).toBeUndefined();
    expect(
      standbyRejection(
        new Error('Failed query', { cause: { code: '55000', message: 'recovery is in progress' } }),
      ),
    ).toBe('55000');
    expect(standbyRejection(undefined)).toBeUndefined();
  });
});
