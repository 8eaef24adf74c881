import { entityKind, is } from 'drizzle-orm';
import { PgDatabase } from 'drizzle-orm/pg-core';
import { KoyoDrizzleError } from './errors.js';

/** @internal the Drizzle drivers koyo routes. */
export type Driver = 'node-postgres' | 'postgres-js';

const DRIVERS: Readonly<Record<string, Driver>> = {
  NodePgDatabase: 'node-postgres',
  PostgresJsDatabase: 'postgres-js',
};

/**
 * The driver of a Drizzle database, or a `KoyoDrizzleError` naming `what` when it is not a
 * Drizzle PostgreSQL database of a supported driver.
 *
 * @internal
 */
export function driverOf(db: unknown, what: string): Driver {
  if (!is(db, PgDatabase)) {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      `withRouting(primaryDb, replicaDbs, options): ${what} is not a Drizzle PostgreSQL database; pass what drizzle() returns.`,
    );
  }
  const kind = (db.constructor as unknown as Record<symbol, unknown>)[entityKind];
  const driver = typeof kind === 'string' ? DRIVERS[kind] : undefined;
  if (driver === undefined) {
    throw new KoyoDrizzleError(
      'UNSUPPORTED_DRIVER',
      `withRouting: ${what} is a ${String(kind)}; koyo routes drizzle-orm/node-postgres and drizzle-orm/postgres-js databases.`,
    );
  }
  return driver;
}
