/**
 * `@koyo/drizzle`: Drizzle ORM bindings for koyo. {@link withRouting} makes a Drizzle database
 * that routes each executed statement (reads to replicas; writes, locks and transactions to the
 * primary). Change handlers typed like a Drizzle table (`onTable`, `drizzleTypeParsers`) are in
 * `@koyo/drizzle/changes`, so routing needs no replication package.
 *
 * @packageDocumentation
 */
export {
  withRouting,
  type AnyPgDatabase,
  type RoutedDatabase,
  type WithRoutingOptions,
} from './with-routing.js';
export { KoyoDrizzleError, type KoyoDrizzleErrorCode } from './errors.js';
export {
  readFromPrimary,
  readFromReplica,
  skipTransactions,
  blockTransactions,
  withSession,
} from '@koyo/router';
