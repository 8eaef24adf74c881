export { createDispatcher } from './create-dispatcher.js';
export { CHANGE_KINDS, isChangeSource } from './change-source.js';
export type { Dispatcher } from './dispatcher.js';
export type { DispatcherOptions } from './options.js';
export type {
  BackfillOptions,
  BackfillResult,
  BackfillTableStats,
  Change,
  ChangeBase,
  ChangeByKind,
  ChangeHandler,
  ChangeKind,
  DeleteChange,
  DeliveryItem,
  DispatcherState,
  DispatcherStats,
  ErrorDecision,
  HandlerResult,
  InsertChange,
  LogicalMessage,
  MessageHandler,
  RetryOptions,
  SlotWalStats,
  SnapshotChange,
  TableHandlers,
  TransactionBatch,
  TransactionHandler,
  TruncateChange,
  UpdateChange,
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
