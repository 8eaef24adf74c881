export { createNatsRelay, type NatsRelay, type NatsRelayStats } from './relay.js';
export type { NatsRelayOptions, NatsTarget } from './relay-options.js';
export { partitionOf } from './partition.js';
export { messageId } from './last-stored.js';
export { KoyoNatsError, type KoyoNatsErrorCode } from './errors.js';
export { createNatsWorker, type NatsWorker, type NatsWorkerOptions } from './worker.js';
export { checkNats, type NatsCheck, type NatsCheckOptions } from './check.js';
export { streamMismatch, type StreamMismatch, type StreamRequirements } from './stream.js';
export { checkStreamName, checkSubjectPrefix } from './names.js';
// The change types a worker's handlers receive (from @koyo/dispatcher), so a worker project
// imports everything it needs from @koyo/nats.
export type {
  Change,
  ChangeBase,
  ChangeByKind,
  ChangeHandler,
  ChangeKind,
  DeleteChange,
  InsertChange,
  SnapshotChange,
  TableHandlers,
  TruncateChange,
  UpdateChange,
} from '@koyo/dispatcher';
