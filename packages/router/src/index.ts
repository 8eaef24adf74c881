/**
 * `@koyo/router`: transaction-aware read/write routing to PostgreSQL replicas, with lag
 * awareness, read-your-writes and failover. The driver-agnostic core; the adapters are
 * `@koyo/router/pg` and `@koyo/router/postgres`.
 *
 * @packageDocumentation
 */
export {
  classifySql,
  createClassifier,
  type Classification,
  type Classifier,
  type ClassifierOptions,
  type TransactionControl,
} from './classify.js';
export {
  blockTransactions,
  getDefaultRole,
  readFromPrimary,
  readFromReplica,
  setDefaultRole,
  skipTransactions,
  withSession,
  type Role,
  type TransactionPolicy,
} from './context.js';
export {
  driverNode,
  probePg,
  probePostgres,
  runDecided,
  type PgProbeTarget,
  type PositionCheck,
  type PostgresProbeTarget,
  type RouterDriver,
} from './driver.js';
export { KoyoRouterError, type KoyoRouterErrorCode } from './errors.js';
export { DEFAULT_VOLATILE_FUNCTIONS } from './functions.js';
export { lostPrimary, provablyNotRun, type FollowOptions, type Topology } from './failover.js';
export * from './causal-reads.js';
export { isConnectionError } from './health.js';
export { nodeSet, urlIdentity } from './node-set.js';
export { formatLsn, parseLsn } from './lsn.js';
export { standbyRejection } from './standby-errors.js';
export {
  Router,
  createRouter,
  type ExecuteOptions,
  type MaxLag,
  type NodeStats,
  type ReadYourWritesOption,
  type RouteDecision,
  type RouteExplanation,
  type RouteLogEntry,
  type RouterNode,
  type RouterConfig,
  type RouterOptions,
  type RouterStats,
  type RunStatement,
  type ResolvedRouterOptions,
} from './router.js';
export { resolveRouterOptions } from './router-options.js';
export type { ReplicaStatus, Strategy, StrategyFunction, StrategyQuery } from './strategy.js';
export type { PositionLike } from './token.js';
