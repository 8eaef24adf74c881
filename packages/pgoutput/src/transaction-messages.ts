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
  if (protocolVersion >= 4 && r.end - r.pos >= 16) {
    const abortLsn = r.u64();
    const micros = timeMicros(r);
    return {
      tag: 'stream_abort',
      xid,
      subXid,
      abortLsn,
      abortTime: unixMicrosToDate(micros),
      abortTimeMicros: micros,
    };
  }
  return {
    tag: 'stream_abort',
    xid,
    subXid,
    abortLsn: undefined,
    abortTime: undefined,
    abortTimeMicros: undefined,
  };
}

/**
 * The body Begin Prepare and Prepare share (after Prepare's flags byte): two LSNs, one
 * timestamp, the xid and the gid. What the LSNs and the time mean depends on the message.
 */
interface TwoPhaseBody {
  readonly firstLsn: bigint;
  readonly secondLsn: bigint;
  readonly micros: bigint;
  readonly xid: number;
  readonly gid: string;
}

function readTwoPhaseBody(r: Reader): TwoPhaseBody {
  const firstLsn = r.u64();
  const secondLsn = r.u64();
  const micros = timeMicros(r);
  const xid = r.u32();
  return { firstLsn, secondLsn, micros, xid, gid: r.cstring() };
}

/** Reads a Begin Prepare message's body (protocol 3+). */
export function readBeginPrepare(r: Reader): BeginPrepareMessage {
  const b = readTwoPhaseBody(r);
  return {
    tag: 'begin_prepare',
    prepareLsn: b.firstLsn,
    endLsn: b.secondLsn,
    prepareTime: unixMicrosToDate(b.micros),
    prepareTimeMicros: b.micros,
    xid: b.xid,
    gid: b.gid,
  };
}

/** Reads a Prepare or Stream Prepare message's body (protocol 3+); they share one layout. */
export function readPrepare(
  r: Reader,
  tag: 'prepare' | 'stream_prepare',
): PrepareMessage | StreamPrepareMessage {
  const flags = r.u8();
  const b = readTwoPhaseBody(r);
  return {
    tag,
    flags,
    prepareLsn: b.firstLsn,
    endLsn: b.secondLsn,
    prepareTime: unixMicrosToDate(b.micros),
    prepareTimeMicros: b.micros,
    xid: b.xid,
    gid: b.gid,
  };
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
