/**
 * What went wrong in `@koyo/router`.
 *
 * - `INVALID_OPTION`: a bad option or argument (the message names it and the accepted values).
 * - `NO_REPLICA_AVAILABLE`: a read needed a replica, none was healthy and within the lag bound, and
 *   `fallback` is `'error'`.
 * - `TRANSACTION_BLOCKED`: a transaction was opened inside {@link blockTransactions}.
 * - `INVALID_TOKEN`: a read-your-writes token that this router did not produce (tampered cookie?).
 * - `CLOSED`: the router (or the routed pool / sql) was closed with `end()`.
 * - `PROBE_TIMEOUT`: a health or lag probe took longer than `probeTimeoutMs` (the replica is ejected).
 * - `NO_PRIMARY`: following the primary (`primary` list or `discover`), no node accepted writes
 *   within `failoverMs`; the statement did not run.
 * - `SPLIT_BRAIN`: following the primary, several nodes accept writes; the router refuses to guess
 *   which one is the primary until only one does.
 * - `QUERY_FAILED`: a statement failed; `cause` is the driver's error, and `sqlstate`, `detail`
 *   and `hint` are copied from it when PostgreSQL sent them. Only thrown by code paths that have to
 *   wrap (the adapters rethrow the driver's own error unchanged).
 */
export type KoyoRouterErrorCode =
  | 'INVALID_OPTION'
  | 'NO_REPLICA_AVAILABLE'
  | 'TRANSACTION_BLOCKED'
  | 'INVALID_TOKEN'
  | 'CLOSED'
  | 'PROBE_TIMEOUT'
  | 'NO_PRIMARY'
  | 'SPLIT_BRAIN'
  | 'QUERY_FAILED';

/**
 * The one error class of `@koyo/router`. `code` says what failed; errors caused by PostgreSQL keep
 * its SQLSTATE, detail and hint, and the original error is the `cause`.
 *
 * @example
 * try {
 *   await pool.query('SELECT 1');
 * } catch (error) {
 *   if (error instanceof KoyoRouterError && error.code === 'NO_REPLICA_AVAILABLE') {
 *     // every replica is down or lagging and the router was built with fallback: 'error'
 *   }
 * }
 */
export class KoyoRouterError extends Error {
  override readonly name = 'KoyoRouterError';
  readonly code: KoyoRouterErrorCode;
  /** SQLSTATE of the PostgreSQL error behind this one, when there is one. */
  readonly sqlstate: string | undefined;
  /** PostgreSQL's DETAIL, when there is one. */
  readonly detail: string | undefined;
  /** PostgreSQL's HINT, when there is one. */
  readonly hint: string | undefined;

  constructor(code: KoyoRouterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    const cause = options?.cause as
      { code?: unknown; detail?: unknown; hint?: unknown } | undefined;
    this.sqlstate =
      typeof cause?.code === 'string' && /^[0-9A-Z]{5}$/.test(cause.code) ? cause.code : undefined;
    this.detail = typeof cause?.detail === 'string' ? cause.detail : undefined;
    this.hint = typeof cause?.hint === 'string' ? cause.hint : undefined;
  }
}
