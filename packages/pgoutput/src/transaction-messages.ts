import type {
  BeginMessage,
  BeginPrepareMessage,
  CommitMessage,
  CommitPreparedMessage,
  OriginMessage,
  PrepareMessage,
  RollbackPreparedMessage,
  StreamAbortMessage,
  StreamCommitMessage,
  StreamPrepareMessage,
} from './messages.js';
import type { Reader } from './reader.js';
import { pgMicrosToUnixMicros, unixMicrosToDate } from './time.js';

// Readers of the messages that frame a transaction (begin, commit, origin, the stream and
// two-phase boundaries). They keep no state: the decoder sets `reader.tag` (and checks the
// protocol version) before calling them. Each returns an object literal of one fixed shape.

/** A pgoutput timestamp (microseconds since 2000-01-01) as Unix microseconds. */
function timeMicros(r: Reader): bigint {
  return pgMicrosToUnixMicros(r.i64());
}

/** Reads a Begin message's body. */
export function readBegin(r: Reader): BeginMessage {
  const finalLsn = r.u64();
  const micros = timeMicros(r);
  return {
    tag: 'begin',
    finalLsn,
    commitTime: unixMicrosToDate(micros),
    commitTimeMicros: micros,
    xid: r.u32(),
  };
}

/** Reads a Commit message's body. */
export function readCommit(r: Reader): CommitMessage {
  const flags = r.u8();
  const commitLsn = r.u64();
  const endLsn = r.u64();
  const micros = timeMicros(r);
  return {
    tag: 'commit',
    flags,
    commitLsn,
    endLsn,
    commitTime: unixMicrosToDate(micros),
    commitTimeMicros: micros,
  };
}

/** Reads an Origin message's body. */
export function readOrigin(r: Reader): OriginMessage {
  const lsn = r.u64();
  return { tag: 'origin', lsn, name: r.cstring() };
}

/** Reads a Stream Commit message's body (protocol 2+): the xid, then a Commit's fields. */
export function readStreamCommit(r: Reader): StreamCommitMessage {
  const xid = r.u32();
  const { tag: _commit, ...fields } = readCommit(r);
  return { tag: 'stream_commit', xid, ...fields };
}

/**
 * Reads a Stream Abort message's body (protocol 2+). Protocol 4 with streaming `'parallel'`
 * adds the abort LSN and time, read when `protocolVersion >= 4` and the bytes are there.
 */
export function readStreamAbort(r: Reader, protocolVersion: number): StreamAbortMessage {
  const xid = r.u32();
  const subXid = r.u32();
  const withAbortPosition = protocolVersion >= 4 && r.end - r.pos >= 16;
  const abortLsn = withAbortPosition ? r.u64() : undefined;
  const micros = withAbortPosition ? timeMicros(r) : undefined;
  return {
    tag: 'stream_abort',
    xid,
    subXid,
    abortLsn,
    abortTime: micros === undefined ? undefined : unixMicrosToDate(micros),
    abortTimeMicros: micros,
  };
}

/**
 * The fields Begin Prepare and Prepare share (Prepare's follow its flags byte): the prepare's
 * LSN and end LSN, its time, the xid and the gid.
 */
function readPrepareFields(r: Reader): Omit<BeginPrepareMessage, 'tag'> {
  const prepareLsn = r.u64();
  const endLsn = r.u64();
  const micros = timeMicros(r);
  const xid = r.u32();
  return {
    prepareLsn,
    endLsn,
    prepareTime: unixMicrosToDate(micros),
    prepareTimeMicros: micros,
    xid,
    gid: r.cstring(),
  };
}

/** Reads a Begin Prepare message's body (protocol 3+). */
export function readBeginPrepare(r: Reader): BeginPrepareMessage {
  return { tag: 'begin_prepare', ...readPrepareFields(r) };
}

/** Reads a Prepare or Stream Prepare message's body (protocol 3+); they share one layout. */
export function readPrepare(
  r: Reader,
  tag: 'prepare' | 'stream_prepare',
): PrepareMessage | StreamPrepareMessage {
  const flags = r.u8();
  return { tag, flags, ...readPrepareFields(r) };
}

/** Reads a Commit Prepared message's body (protocol 3+): a Commit's fields, the xid and the gid. */
export function readCommitPrepared(r: Reader): CommitPreparedMessage {
  const commit = readCommit(r);
  const xid = r.u32();
  return { ...commit, tag: 'commit_prepared', xid, gid: r.cstring() };
}

/** Reads a Rollback Prepared message's body (protocol 3+): it carries two timestamps. */
export function readRollbackPrepared(r: Reader): RollbackPreparedMessage {
  const flags = r.u8();
  const prepareEndLsn = r.u64();
  const rollbackEndLsn = r.u64();
  const prepareMicros = timeMicros(r);
  const rollbackMicros = timeMicros(r);
  const xid = r.u32();
  return {
    tag: 'rollback_prepared',
    flags,
    prepareEndLsn,
    rollbackEndLsn,
    prepareTime: unixMicrosToDate(prepareMicros),
    prepareTimeMicros: prepareMicros,
    rollbackTime: unixMicrosToDate(rollbackMicros),
    rollbackTimeMicros: rollbackMicros,
    xid,
    gid: r.cstring(),
  };
}
