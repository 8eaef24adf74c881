/**
 * What went wrong in `@koyo/drizzle`.
 *
 * - `INVALID_ARGUMENT`: a function got something it cannot use (not a Drizzle database, not a
 *   Drizzle table, not a dispatcher, a handler that is not a function, a bad option); the message
 *   names it. This is the situation the other koyo packages call `INVALID_OPTION`: such an error
 *   also answers `error.is('INVALID_OPTION')` and lists both names in `error.codes`. Its `code`
 *   stays `'INVALID_ARGUMENT'` so existing checks keep working.
 * - `INVALID_OPTION`: the cross-package name of `INVALID_ARGUMENT` (see above); check it with
 *   `error.is('INVALID_OPTION')`.
 * - `UNSUPPORTED_DRIVER`: `withRouting` was given a Drizzle database of a driver other than
 *   `drizzle-orm/node-postgres` or `drizzle-orm/postgres-js`, or databases of different drivers.
 * - `VALUE_MAPPING_FAILED`: a column's own `mapFromDriverValue` (e.g. a `customType`'s
 *   `fromDriver`) threw on a value of a change; `cause` is its error.
 *
 * @example
 * if (error instanceof KoyoDrizzleError && error.code === 'VALUE_MAPPING_FAILED') console.error(error.cause);
 */
export type KoyoDrizzleErrorCode =
  'INVALID_ARGUMENT' | 'INVALID_OPTION' | 'UNSUPPORTED_DRIVER' | 'VALUE_MAPPING_FAILED';

/** Codes that name one situation: `code` of the error first, then its other names. */
const SAME_SITUATION: Readonly<
  Partial<Record<KoyoDrizzleErrorCode, readonly KoyoDrizzleErrorCode[]>>
> = {
  INVALID_ARGUMENT: ['INVALID_ARGUMENT', 'INVALID_OPTION'],
  INVALID_OPTION: ['INVALID_OPTION', 'INVALID_ARGUMENT'],
};

/**
 * The one error class of `@koyo/drizzle`. `code` says what failed and the original error, if any,
 * is the `cause`. Errors of PostgreSQL and of `@koyo/router` pass through unchanged.
 *
 * @example
 * try {
 *   withRouting(primaryDb, [replicaDb]);
 * } catch (error) {
 *   if (error instanceof KoyoDrizzleError && error.code === 'UNSUPPORTED_DRIVER') console.error(error.message);
 *   if (error instanceof KoyoDrizzleError && error.is('INVALID_OPTION')) console.error('a bad argument:', error.message);
 * }
 */
export class KoyoDrizzleError extends Error {
  override readonly name = 'KoyoDrizzleError';
  readonly code: KoyoDrizzleErrorCode;

  constructor(code: KoyoDrizzleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /**
   * Every name of this error's situation: `code` first, then its other names (an
   * `INVALID_ARGUMENT` error is also `INVALID_OPTION`, the name the other koyo packages use).
   *
   * @example
   * new KoyoDrizzleError('INVALID_ARGUMENT', 'bad').codes; // ['INVALID_ARGUMENT', 'INVALID_OPTION']
   */
  get codes(): readonly KoyoDrizzleErrorCode[] {
    return SAME_SITUATION[this.code] ?? [this.code];
  }

  /**
   * Whether this error is of the situation `code` names, under any of its names.
   *
   * @example
   * if (error instanceof KoyoDrizzleError && error.is('INVALID_OPTION')) showUsage(error.message);
   */
  is(code: KoyoDrizzleErrorCode): boolean {
    return this.codes.includes(code);
  }
}
