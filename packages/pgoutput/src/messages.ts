/**
 * The marker for an unchanged TOASTed value (`u` in a tuple): PostgreSQL did not send the value
 * because the update did not change it and it is stored out of line. Never `null` or `undefined`,
 * so "unchanged" cannot be mistaken for "set to NULL".
 *
 * It is a registered symbol (`Symbol.for`), so two copies of this package agree on it.
 *
 * @example
 * if (message.new.body === UNCHANGED_TOAST) keepPreviousBody();
 */
export const UNCHANGED_TOAST: unique symbol = Symbol.for('@koyo/pgoutput/unchanged-toast');

/** The type of {@link UNCHANGED_TOAST}. */
export type UnchangedToast = typeof UNCHANGED_TOAST;

/**
 * A decoded row: column name to value. Values are parsed like `pg` parses a SELECT result
 * (`parse: true`), or the server's text (`parse: false`); `null` for SQL NULL;
 * {@link UNCHANGED_TOAST} for an unchanged TOASTed value.
 */
export type Row = Record<string, unknown>;

/** Start of a transaction (`B`). */
export interface BeginMessage {
  tag: 'begin';
  /** LSN of the transaction's commit record. */
  finalLsn: bigint;
  /** Commit time (millisecond precision; see `commitTimeMicros`). */
  commitTime: Date;
  /** Commit time in microseconds since the Unix epoch. */
  commitTimeMicros: bigint;
  xid: number;
}

/** End of a transaction (`C`). Acknowledge `endLsn` once the transaction is processed. */
export interface CommitMessage {
  tag: 'commit';
  /** Unused by PostgreSQL so far (0). */
  flags: number;
  /** LSN of the commit record (equals the Begin's `finalLsn`). */
  commitLsn: bigint;
  /** LSN just past the commit record: the position to confirm as flushed. */
  endLsn: bigint;
  commitTime: Date;
  /** Commit time in microseconds since the Unix epoch. */
  commitTimeMicros: bigint;
}

/** The replication origin of the transaction that follows its Begin (`O`). */
export interface OriginMessage {
  tag: 'origin';
  /** Commit LSN of the transaction on the origin server. */
  lsn: bigint;
  name: string;
}

/** One column of a {@link RelationMessage}. */
export interface RelationColumn {
  name: string;
  /** OID of the column's type (see `pg_type`). */
  typeOid: number;
  /** Type modifier (`atttypmod`), e.g. `varchar(n)` length + 4; -1 when none. */
  typeMod: number;
  /** Part of the replica identity key (all columns under `REPLICA IDENTITY FULL`). */
  isKey: boolean;
  /** Raw column flags (bit 0 = key). */
  flags: number;
}

/**
 * Describes a table before its first change in a session and after its definition changes (`R`).
 * Changes refer to it by `oid`; the decoder remembers it until {@link PgoutputDecoder.reset}.
 */
export interface RelationMessage {
  tag: 'relation';
  oid: number;
  /** Schema name (`pg_catalog` for system relations, which pgoutput sends as an empty string). */
  schema: string;
  name: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /** Published columns, in table order (dropped, generated and unpublished columns are absent). */
  columns: RelationColumn[];
  /** Top-level or sub-transaction xid; present inside a streamed block only. */
  xid?: number | undefined;
}

/** A new row (`I`). */
export interface InsertMessage {
  tag: 'insert';
  relation: RelationMessage;
  new: Row;
  /** Present inside a streamed block only. */
  xid?: number | undefined;
}

/**
 * An updated row (`U`). `key` is set (key columns only) when the replica identity key changed;
 * `old` is the whole old row under `REPLICA IDENTITY FULL`; otherwise both are `null`.
 */
export interface UpdateMessage {
  tag: 'update';
  relation: RelationMessage;
  key: Row | null;
  old: Row | null;
  new: Row;
  /** Present inside a streamed block only. */
  xid?: number | undefined;
}

/**
 * A deleted row (`D`): `key` (key columns only) under `REPLICA IDENTITY DEFAULT`/`INDEX`, `old`
 * (whole row) under `FULL`. Tables with `REPLICA IDENTITY NOTHING` (or no key) send no deletes.
 */
export interface DeleteMessage {
  tag: 'delete';
  relation: RelationMessage;
  key: Row | null;
  old: Row | null;
  /** Present inside a streamed block only. */
  xid?: number | undefined;
}

/** `TRUNCATE` of one or more tables (`T`). */
export interface TruncateMessage {
  tag: 'truncate';
  relations: RelationMessage[];
  cascade: boolean;
  restartIdentity: boolean;
  /** Present inside a streamed block only. */
  xid?: number | undefined;
}

/** A `pg_logical_emit_message()` (`M`), sent when the stream was started with `messages 'true'`. */
export interface MessageMessage {
  tag: 'message';
  /** Emitted inside a transaction (sent at its commit) rather than immediately. */
  transactional: boolean;
  /** LSN of the message record. */
  lsn: bigint;
  prefix: string;
  /** The content, copied out of the payload. */
  content: Uint8Array;
  /** Present inside a streamed block only. */
  xid?: number | undefined;
}

/** A non-builtin type used by a following relation (`Y`). */
export interface TypeMessage {
  tag: 'type';
  oid: number;
  schema: string;
  name: string;
  /** Present inside a streamed block only. */
  xid?: number | undefined;
}

/** Start of a block of a streamed, still in-progress transaction (`S`, protocol 2+). */
export interface StreamStartMessage {
  tag: 'stream_start';
  xid: number;
  /** The first block of this transaction. */
  firstSegment: boolean;
}

/** End of a streamed block (`E`, protocol 2+). */
export interface StreamStopMessage {
  tag: 'stream_stop';
}

/** A streamed transaction committed (`c`, protocol 2+). Acknowledge `endLsn`. */
export interface StreamCommitMessage {
  tag: 'stream_commit';
  xid: number;
  flags: number;
  commitLsn: bigint;
  endLsn: bigint;
  commitTime: Date;
  /** Commit time in microseconds since the Unix epoch. */
  commitTimeMicros: bigint;
}

/**
 * A streamed (sub)transaction aborted (`A`, protocol 2+): discard its changes (all of the
 * transaction when `subXid === xid`). With `streaming 'parallel'` (protocol 4) the abort's LSN
 * and time are sent too.
 */
export interface StreamAbortMessage {
  tag: 'stream_abort';
  xid: number;
  subXid: number;
  abortLsn?: bigint | undefined;
  abortTime?: Date | undefined;
  /** Abort time in microseconds since the Unix epoch (protocol 4 parallel streaming only). */
  abortTimeMicros?: bigint | undefined;
}

/** Start of a prepared (two-phase) transaction (`b`, protocol 3+). */
export interface BeginPrepareMessage {
  tag: 'begin_prepare';
  prepareLsn: bigint;
  /** LSN just past the PREPARE record. */
  endLsn: bigint;
  prepareTime: Date;
  /** Prepare time in microseconds since the Unix epoch. */
  prepareTimeMicros: bigint;
  xid: number;
  /** Global transaction identifier given to `PREPARE TRANSACTION`. */
  gid: string;
}

/** `PREPARE TRANSACTION` (`P`, protocol 3+): the fields of {@link BeginPrepareMessage}, and flags. */
export interface PrepareMessage extends Omit<BeginPrepareMessage, 'tag'> {
  tag: 'prepare';
  flags: number;
}

/** `COMMIT PREPARED` (`K`, protocol 3+). */
export interface CommitPreparedMessage {
  tag: 'commit_prepared';
  flags: number;
  commitLsn: bigint;
  endLsn: bigint;
  commitTime: Date;
  commitTimeMicros: bigint;
  xid: number;
  gid: string;
}

/** `ROLLBACK PREPARED` (`r`, protocol 3+). */
export interface RollbackPreparedMessage {
  tag: 'rollback_prepared';
  flags: number;
  /** End LSN of the prepared transaction. */
  prepareEndLsn: bigint;
  /** End LSN of the rollback. */
  rollbackEndLsn: bigint;
  prepareTime: Date;
  prepareTimeMicros: bigint;
  rollbackTime: Date;
  rollbackTimeMicros: bigint;
  xid: number;
  gid: string;
}

/**
 * A streamed transaction was prepared (`p`, protocol 3+ with streaming): the fields of
 * {@link PrepareMessage}.
 */
export interface StreamPrepareMessage extends Omit<PrepareMessage, 'tag'> {
  tag: 'stream_prepare';
}

/** Every message {@link PgoutputDecoder.decode} returns, discriminated by `tag`. */
export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | MessageMessage
  | StreamStartMessage
  | StreamStopMessage
  | StreamCommitMessage
  | StreamAbortMessage
  | BeginPrepareMessage
  | PrepareMessage
  | CommitPreparedMessage
  | RollbackPreparedMessage
  | StreamPrepareMessage;

/** The `tag` of a {@link PgoutputMessage}. */
export type PgoutputTag = PgoutputMessage['tag'];
