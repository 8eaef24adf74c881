/**
 * What went wrong in `@koyo/knex`.
 *
 * - `INVALID_OPTION`: a bad option of {@link routedKnex} or {@link onTable} (the message names it).
 * - `NOT_ROUTED`: a helper was given a Knex instance that {@link routedKnex} did not create.
 *
 * Routing errors (`NO_REPLICA_AVAILABLE`, `TRANSACTION_BLOCKED`, `CLOSED`, ...) are
 * `KoyoRouterError`s from `@koyo/router`; errors from PostgreSQL are Knex's (the `pg` error with
 * its SQLSTATE `code`, `detail` and `hint`).
 */
export type KoyoKnexErrorCode = 'INVALID_OPTION' | 'NOT_ROUTED';

/**
 * The base error of `@koyo/knex`.
 *
 * @example
 * try { routedKnex({ primary: { client: 'mysql2' } }); } catch (e) { if (e instanceof KoyoKnexError) console.log(e.code); }
 */
export class KoyoKnexError extends Error {
  /** A stable string for programs. */
  readonly code: KoyoKnexErrorCode;

  constructor(code: KoyoKnexErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KoyoKnexError';
    this.code = code;
  }
}
