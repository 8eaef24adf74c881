// The shapes the dispatcher consumes from @koyo/pgoutput and @koyo/slot (see the contracts).
// Kept structural so the engine can be fed synthetic messages in unit tests.

/** A decoded row: values keyed by column name. */
export type WireRow = Record<string, unknown>;

export interface WireColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  isKey: boolean;
  flags: number;
}

export interface WireRelation {
  tag: 'relation';
  oid: number;
  schema: string;
  name: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  columns: WireColumn[];
  xid?: number | undefined;
}

export interface WireBegin {
  tag: 'begin';
  finalLsn: bigint;
  commitTime: Date;
  commitTimeMicros: bigint;
  xid: number;
}
export interface WireCommit {
  tag: 'commit';
  flags: number;
  commitLsn: bigint;
  endLsn: bigint;
  commitTime: Date;
  commitTimeMicros: bigint;
}
export interface WireInsert {
  tag: 'insert';
  relation: WireRelation;
  new: WireRow;
  xid?: number | undefined;
}
export interface WireUpdate {
  tag: 'update';
  relation: WireRelation;
  key: WireRow | null;
  old: WireRow | null;
  new: WireRow;
  xid?: number | undefined;
}
export interface WireDelete {
  tag: 'delete';
  relation: WireRelation;
  key: WireRow | null;
  old: WireRow | null;
  xid?: number | undefined;
}
export interface WireTruncate {
  tag: 'truncate';
  relations: WireRelation[];
  cascade: boolean;
  restartIdentity: boolean;
  xid?: number | undefined;
}
export interface WireMessage {
  tag: 'message';
  transactional: boolean;
  lsn: bigint;
  prefix: string;
  content: Uint8Array;
  xid?: number | undefined;
}
export interface WireStreamStart {
  tag: 'stream_start';
  xid: number;
  firstSegment: boolean;
}
export interface WireStreamStop {
  tag: 'stream_stop';
}
export interface WireStreamCommit {
  tag: 'stream_commit';
  xid: number;
  flags: number;
  commitLsn: bigint;
  endLsn: bigint;
  commitTime: Date;
  commitTimeMicros: bigint;
}
export interface WireStreamAbort {
  tag: 'stream_abort';
  xid: number;
  subXid: number;
  abortLsn?: bigint | undefined;
  abortTime?: Date | undefined;
}
/** The replication origin of the transaction (after Begin, or in a stream's first segment). */
export interface WireOrigin {
  tag: 'origin';
  name: string;
}
/** Any other message (type, two-phase ...): only its tag matters here. */
export interface WireOther {
  tag:
    | 'type'
    | 'begin_prepare'
    | 'prepare'
    | 'commit_prepared'
    | 'rollback_prepared'
    | 'stream_prepare';
}

export type WireMessageUnion =
  | WireBegin
  | WireCommit
  | WireRelation
  | WireInsert
  | WireUpdate
  | WireDelete
  | WireTruncate
  | WireMessage
  | WireStreamStart
  | WireStreamStop
  | WireStreamCommit
  | WireStreamAbort
  | WireOrigin
  | WireOther;

/** An event of a replication stream, as `@koyo/slot` yields it. */
export type WireEvent =
  | { kind: 'message'; lsn: bigint; walEnd: bigint; message: WireMessageUnion }
  | { kind: 'reconnected'; startLsn: bigint; attempt: number };

/** The part of `@koyo/slot`'s ReplicationStream the dispatcher uses. */
export interface WireStream extends AsyncIterable<WireEvent> {
  acknowledge(lsn: bigint): void;
  stop(): Promise<void>;
  readonly receivedLsn: bigint;
  readonly flushedLsn: bigint;
  /** Reconnects so far (optional: synthetic streams in unit tests have none). */
  readonly reconnects?: number;
}
