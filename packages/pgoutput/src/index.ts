export {
  CopyTextRowDecoder,
  type CopyTextColumn,
  type CopyTextRowDecoderOptions,
} from './copy-text.js';
export { PgoutputDecoder, type DecoderOptions } from './decoder.js';
export {
  KoyoPgoutputError,
  PgoutputDecodeError,
  type KoyoPgoutputErrorCode,
  type PgoutputDecodeErrorCode,
} from './errors.js';
export { formatLsn, parseLsn } from './lsn.js';
export {
  encodeStandbyStatusUpdate,
  parseCopyData,
  type PrimaryKeepalive,
  type StandbyStatusUpdate,
  type XLogData,
} from './framing.js';
export {
  UNCHANGED_TOAST,
  type BeginMessage,
  type BeginPrepareMessage,
  type CommitMessage,
  type CommitPreparedMessage,
  type DeleteMessage,
  type InsertMessage,
  type MessageMessage,
  type OriginMessage,
  type PgoutputMessage,
  type PgoutputTag,
  type PrepareMessage,
  type RelationColumn,
  type RelationMessage,
  type RollbackPreparedMessage,
  type Row,
  type StreamAbortMessage,
  type StreamCommitMessage,
  type StreamPrepareMessage,
  type StreamStartMessage,
  type StreamStopMessage,
  type TruncateMessage,
  type TypeMessage,
  type UnchangedToast,
  type UpdateMessage,
} from './messages.js';
// Every export of time.ts (the PostgreSQL epoch and its conversions) is public.
export * from './time.js';
