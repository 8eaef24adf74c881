import { describe, expect, it } from 'vitest';
import { KoyoPgoutputError, PgoutputDecodeError } from './index.js';
import { parseLsn } from './lsn.js';

describe('KoyoPgoutputError', () => {
  it('is the class the deprecated PgoutputDecodeError names, so instanceof works both ways', () => {
    expect(PgoutputDecodeError).toBe(KoyoPgoutputError);
    const thrown = (() => {
      try {
        parseLsn('not an lsn');
      } catch (error) {
        return error;
      }
      throw new Error('parseLsn accepted a bad LSN');
    })();
    expect(thrown).toBeInstanceOf(KoyoPgoutputError);
    expect(thrown).toBeInstanceOf(PgoutputDecodeError);
    expect(new PgoutputDecodeError('INVALID_LSN', 'x')).toBeInstanceOf(KoyoPgoutputError);
    expect(thrown).toMatchObject({ name: 'PgoutputDecodeError', code: 'INVALID_LSN' });
  });
});
