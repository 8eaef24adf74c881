import { describe, expect, it } from 'vitest';
import {
  classifyError,
  isPublicationMissing,
  KoyoSlotError,
  publicationMissingError,
} from './errors.js';

const pgError = (code: string, message: string): Error =>
  Object.assign(new Error(message), { code, detail: 'd', hint: 'h' });

describe('classifyError', () => {
  // A status update written to the socket of a killed server fails with EPIPE: five capital
  // letters, like a SQLSTATE, but a lost connection (it ended streams as SERVER_ERROR).
  it.each([
    ['EPIPE', -32, 'write'],
    ['EBADF', -9, 'read'],
  ])(
    'retries a socket error whose code looks like a SQLSTATE (%s after a server crash)',
    (code, errno, syscall) => {
      const error = Object.assign(new Error(`${syscall} ${code}`), { code, errno, syscall });
      expect(classifyError(error)).toMatchObject({
        retry: true,
        error: { code: 'CONNECTION_FAILED' },
      });
    },
  );

  it('retries connection loss and a slot held by another process', () => {
    expect(classifyError(new Error('Connection terminated unexpectedly'))).toMatchObject({
      retry: true,
      error: { code: 'CONNECTION_FAILED' },
    });
    expect(
      classifyError(pgError('57P01', 'terminating connection due to administrator command')),
    ).toMatchObject({ retry: true });
    expect(
      classifyError(pgError('55006', 'replication slot "s" is active for PID 42')),
    ).toMatchObject({ retry: true, error: { code: 'SLOT_ACTIVE', sqlState: '55006' } });
  });

  it('never retries a missing or invalidated slot, or a wrong setup', () => {
    expect(classifyError(pgError('42704', 'replication slot "s" does not exist'))).toMatchObject({
      retry: false,
      error: { code: 'SLOT_NOT_FOUND' },
    });
    expect(
      classifyError(pgError('55000', 'can no longer get changes from replication slot "s"')),
    ).toMatchObject({ retry: false, error: { code: 'SLOT_INVALIDATED' } });
    expect(
      classifyError(pgError('55000', 'logical decoding requires "wal_level" >= "logical"')),
    ).toMatchObject({ retry: false, error: { code: 'WAL_LEVEL' } });
    expect(classifyError(pgError('28P01', 'password authentication failed'))).toMatchObject({
      retry: false,
      error: { code: 'AUTHENTICATION_FAILED' },
    });
    const { error } = classifyError(pgError('42501', 'permission denied'));
    expect(error).toBeInstanceOf(KoyoSlotError);
    expect(error).toMatchObject({
      code: 'PERMISSION_DENIED',
      detail: 'd',
      hint: 'h',
      name: 'KoyoSlotError',
    });
    expect(error.cause).toBeInstanceOf(Error);
  });
});

describe('a missing publication while streaming', () => {
  it('is recognised by SQLSTATE and text: the PostgreSQL 16+ warning and the 15 error, nothing else', () => {
    expect(
      isPublicationMissing({ code: '55000', message: 'skipped loading publication "p"' }),
    ).toBe(true);
    expect(isPublicationMissing({ code: '42704', message: 'publication "p" does not exist' })).toBe(
      true,
    );
    expect(
      isPublicationMissing({ code: '42704', message: 'replication slot "s" does not exist' }),
    ).toBe(false);
    expect(
      isPublicationMissing({
        code: '55000',
        message: 'can no longer get changes from replication slot "s"',
      }),
    ).toBe(false);
    expect(
      isPublicationMissing({ code: '01000', message: 'skipped loading publication "p"' }),
    ).toBe(false);
  });

  it("becomes PUBLICATION_MISSING with the server's SQLSTATE, detail and hint and says what to do", () => {
    const error = publicationMissingError(
      {
        code: '55000',
        message: 'skipped loading publication "p"',
        detail: 'The publication does not exist at this point in the WAL.',
        hint: 'Create the publication if it does not exist.',
      },
      { slot: 's', publications: ['p'], confirmedLsn: '0/16B3748' },
    );
    expect(error).toMatchObject({
      name: 'KoyoSlotError',
      code: 'PUBLICATION_MISSING',
      sqlState: '55000',
      hint: 'Create the publication if it does not exist.',
    });
    expect(error.message).toMatch(/0\/16B3748/);
    expect(error.message).toMatch(/Recreate the publication/);
  });
});
