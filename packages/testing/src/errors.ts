/** What went wrong while managing a throwaway PostgreSQL cluster. */
export type KoyoTestingErrorCode =
  | 'POSTGRES_NOT_FOUND'
  | 'INVALID_OPTION'
  /** The PostgreSQL version cannot do what was asked (`slotSync` before 17). */
  | 'UNSUPPORTED'
  | 'INITDB_FAILED'
  | 'START_FAILED'
  | 'STOP_FAILED'
  | 'COMMAND_FAILED'
  | 'NOT_A_REPLICA'
  | 'TIMEOUT'
  | 'NO_TEST_CLUSTER'
  | 'NATS_NOT_FOUND';

/**
 * The one error class of `@koyo/testing`. `code` says what failed; for a server that did not
 * start, `message` ends with the tail of its log.
 *
 * @example
 * try { await startCluster({ postgres: 'system' }) }
 * catch (e) { if (e instanceof KoyoTestingError && e.code === 'POSTGRES_NOT_FOUND') useEmbedded() }
 */
export class KoyoTestingError extends Error {
  override readonly name = 'KoyoTestingError';
  readonly code: KoyoTestingErrorCode;

  constructor(code: KoyoTestingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
