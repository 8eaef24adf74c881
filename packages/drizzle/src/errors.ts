/**
 * What went wrong in `@koyo/drizzle`.
 *
 * - `INVALID_ARGUMENT`: a function got something it cannot use (not a Drizzle database, not a
 *   Drizzle table, not a dispatcher, a handler that is not a function); the message names it.
 * - `UNSUPPORTED_DRIVER`: `withRouting` was given a Drizzle database of a driver other than
 *   `drizzle-orm/node-postgres` or `drizzle-orm/postgres-js`, or databases of different drivers.
 * - `VALUE_MAPPING_FAILED`: a column's own `mapFromDriverValue` (e.g. a `customType`'s
 *   `fromDriver`) threw on a value of a change; `cause` is its error.
 *
 * @example
 * if (error instanceof KoyoDrizzleError && error.code === 'VALUE_MAPPING_FAILED') console.error(error.cause);
 */
export type KoyoDrizzleErrorCode =
  'INVALID_ARGUMENT' | 'UNSUPPORTED_DRIVER' | 'VALUE_MAPPING_FAILED';

/**
 * The one error class of `@koyo/drizzle`. `code` says what failed and the original error, if any,
 * is the `cause`. Errors of PostgreSQL and of `@koyo/router` pass through unchanged.
 *
 * @example
 * try {
 *   withRouting(primaryDb, [replicaDb]);
 * } catch (error) {
 *   if (error instanceof KoyoDrizzleError && error.code === 'UNSUPPORTED_DRIVER') console.error(error.message);
 * }
 */
export class KoyoDrizzleError extends Error {
  override readonly name = 'KoyoDrizzleError';
  readonly code: KoyoDrizzleErrorCode;

  constructor(code: KoyoDrizzleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
