export { createDispatcher } from './create-dispatcher.js';
export type { Dispatcher } from './dispatcher.js';
export type { DispatcherOptions } from './options.js';
export type {
  BackfillOptions,
  BackfillResult,
  BackfillTableStats,
  Change,
  ChangeHandler,
  ChangeKind,
  DeliveryItem,
  DispatcherState,
  DispatcherStats,
  ErrorDecision,
  HandlerResult,
  LogicalMessage,
  MessageHandler,
  RetryOptions,
  SnapshotChange,
  TableHandlers,
  TransactionBatch,
  TransactionHandler,
} from './types.js';
export { KoyoDispatcherError, type KoyoDispatcherErrorCode } from './errors.js';
export {
  createKoyoLogger,
  silentLogger,
  type KoyoLogLevel,
  type KoyoLoggerOptions,
  type Logger,
} from './logger.js';
