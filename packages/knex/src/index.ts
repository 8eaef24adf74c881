/**
 * `@koyo/knex`: Knex bindings for koyo. {@link routedKnex} returns a real Knex instance that sends
 * reads to replicas and writes, transactions, schema changes and migrations to the primary.
 * Change handlers (`onTable`) are in `@koyo/knex/changes`, so routing needs no replication package.
 *
 * @packageDocumentation
 */
export { classifyBuilder, type BuilderClassification } from './classify-builder.js';
export { KoyoKnexError, type KoyoKnexErrorCode } from './errors.js';
export { originKnex, type OriginSource } from './origin-knex.js';
export {
  explain,
  routedKnex,
  routerOf,
  type KnexNodeConfig,
  type RoutedKnex,
  type RoutedKnexOptions,
} from './routed-knex.js';
export {
  blockTransactions,
  readFromPrimary,
  readFromReplica,
  skipTransactions,
  withSession,
  type Started,
} from './scopes.js';
export {
  KoyoRouterError,
  setDefaultRole,
  type RouteDecision,
  type RouteExplanation,
  type RouteLogEntry,
  type Router,
  type RouterOptions,
} from '@koyo/router';
