import { DrizzleQueryError } from 'drizzle-orm';

/**
 * Drizzle wraps driver errors in a `DrizzleQueryError` whose `cause` holds the SQLSTATE or socket
 * error code. The router decides retries and ejections from an error's own `code` and `message`,
 * so it gets a carrier with the driver error's code and message; the caller gets Drizzle's error.
 *
 * @internal
 */
export class DriverFailure extends Error {
  readonly code: unknown;
  constructor(
    readonly original: unknown,
    driverError: { code?: unknown; message?: unknown },
  ) {
    super(typeof driverError.message === 'string' ? driverError.message : String(driverError));
    this.code = driverError.code;
  }
}

/** @internal throws the router's carrier of a Drizzle query error (other errors as they are). */
export function unwrapForRouter(error: unknown): never {
  if (
    error instanceof DrizzleQueryError &&
    error.cause !== null &&
    typeof error.cause === 'object'
  ) {
    throw new DriverFailure(error, error.cause);
  }
  throw error;
}

/** @internal throws the error the caller gets: Drizzle's own error again for a carrier. */
export function rewrap(error: unknown): never {
  throw error instanceof DriverFailure ? error.original : error;
}
