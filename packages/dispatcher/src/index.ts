export { createDispatcher } from './create-dispatcher.js';
export { CHANGE_KINDS, isChangeSource } from './change-source.js';
export type { Dispatcher } from './dispatcher.js';
export type { DispatcherOptions } from './options.js';
// The change types a handler receives: Change, each kind's type, ChangeHandler, TableHandlers.
export type * from './change-types.js';
export type {
  BackfillOptions,
  BackfillResult,
  BackfillTableStats,
  DeliveryItem,
  DispatcherState,
  DispatcherStats,
  ErrorDecision,
  HandlerResult,
  LogicalMessage,
  MessageHandler,
  RetryOptions,
  SlotWalStats,
  TransactionBatch,
  TransactionHandler,
} from './types.js';
export { OriginPool, type OriginTransactionOptions } from './origin-pool.js';
export { KoyoDispatcherError, type KoyoDispatcherErrorCode } from './errors.js';
export {
  createKoyoLogger,
  silentLogger,
  type KoyoLogLevel,
  type KoyoLoggerOptions,
  type Logger,
} from './logger.js';
