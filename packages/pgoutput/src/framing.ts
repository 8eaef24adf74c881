import { KoyoPgoutputError } from './errors.js';
import { asBuffer } from './reader.js';
import { pgNowMicros } from './time.js';

/** A WAL data frame (`w`) of a replication stream. */
export interface XLogData {
  tag: 'xlogdata';
  /** WAL position of the start of the payload's record. */
  walStart: bigint;
  /** Current end of WAL on the server. */
  walEnd: bigint;
  /** Server clock when sent, in µs since 2000-01-01T00:00:00Z (PostgreSQL's epoch). */
  sendTime: bigint;
  /** The pgoutput message: a view into the CopyData body, not a copy. */
  payload: Uint8Array;
}

/** A keepalive (`k`) of a replication stream. */
export interface PrimaryKeepalive {
  tag: 'keepalive';
  /** Current end of WAL on the server. */
  walEnd: bigint;
  /** Server clock when sent, in µs since 2000-01-01T00:00:00Z. */
  sendTime: bigint;
  /** The server asks for a standby status update right away (or it times the connection out). */
  replyRequested: boolean;
}

/** Fields of a standby status update, see {@link encodeStandbyStatusUpdate}. */
export interface StandbyStatusUpdate {
  /** Last WAL position + 1 received and written. */
  written: bigint;
  /** Last WAL position + 1 flushed: the slot's `confirmed_flush_lsn` moves here. */
  flushed: bigint;
  /** Last WAL position + 1 applied. */
  applied: bigint;
  /** Client clock in µs since 2000-01-01T00:00:00Z; default now. */
  clock?: bigint;
  /** Ask the server to answer with a keepalive right away. */
  replyRequested?: boolean;
}

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const MAX_I64 = 0x7fff_ffff_ffff_ffffn;

/**
 * Parses the body of a CopyData message of a `START_REPLICATION` stream: an XLogData frame
 * (`w`, 25-byte header + pgoutput payload) or a primary keepalive (`k`, 18 bytes).
 *
 * @example
 * connection.on('copyData', ({ chunk }) => {
 *   const frame = parseCopyData(chunk);
 *   if (frame.tag === 'xlogdata') handle(decoder.decode(frame.payload));
 *   else if (frame.replyRequested) send(encodeStandbyStatusUpdate({ written, flushed, applied: flushed }));
 * });
 * @throws KoyoPgoutputError `UNKNOWN_FRAME` or `TRUNCATED`.
 */
export function parseCopyData(body: Uint8Array): XLogData | PrimaryKeepalive {
  if (!(body instanceof Uint8Array)) {
    throw new KoyoPgoutputError(
      'INVALID_OPTION',
      'parseCopyData() takes the CopyData body as a Uint8Array or Buffer.',
    );
  }
  const buf = asBuffer(body);
  const kind = buf.length > 0 ? buf[0] : undefined;
  if (kind === 0x77 /* w */) {
    if (buf.length < 25) {
      throw new KoyoPgoutputError(
        'TRUNCATED',
        `An XLogData frame has a 25-byte header, this one is ${buf.length} bytes.`,
        {
          offset: buf.length,
          tag: 'xlogdata',
        },
      );
    }
    return {
      tag: 'xlogdata',
      walStart: buf.readBigUInt64BE(1),
      walEnd: buf.readBigUInt64BE(9),
      sendTime: buf.readBigInt64BE(17),
      payload: buf.subarray(25),
    };
  }
  if (kind === 0x6b /* k */) {
    if (buf.length !== 18) {
      throw new KoyoPgoutputError(
        buf.length < 18 ? 'TRUNCATED' : 'TRAILING_BYTES',
        `A primary keepalive is 18 bytes, this one is ${buf.length}.`,
        { offset: Math.min(buf.length, 18), tag: 'keepalive' },
      );
    }
    return {
      tag: 'keepalive',
      walEnd: buf.readBigUInt64BE(1),
      sendTime: buf.readBigInt64BE(9),
      replyRequested: buf[17] !== 0,
    };
  }
  throw new KoyoPgoutputError(
    kind === undefined ? 'TRUNCATED' : 'UNKNOWN_FRAME',
    kind === undefined
      ? 'Empty CopyData body.'
      : `Unknown replication frame 0x${kind.toString(16)}: expected XLogData ('w') or a primary keepalive ('k'). Pass the CopyData body only.`,
    { offset: 0 },
  );
}

function checkPosition(name: string, value: unknown): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_U64) {
    throw new KoyoPgoutputError(
      'INVALID_LSN',
      `${name} must be a bigint LSN from 0 to 2^64-1, got ${String(value)}.`,
    );
  }
  return value;
}

/**
 * Encodes a standby status update (`r`), the 34-byte CopyData body a replication client sends
 * to report progress and answer keepalives. The clock defaults to now.
 *
 * @example
 * const body = encodeStandbyStatusUpdate({ written: lsn, flushed: lsn, applied: lsn });
 * connection.sendCopyFromChunk(body);
 * @throws KoyoPgoutputError `INVALID_LSN` for a position outside 0..2^64-1, `INVALID_OPTION` for a bad clock.
 */
export function encodeStandbyStatusUpdate(update: StandbyStatusUpdate): Uint8Array {
  const written = checkPosition('written', update.written);
  const flushed = checkPosition('flushed', update.flushed);
  const applied = checkPosition('applied', update.applied);
  const clock = update.clock ?? pgNowMicros();
  if (typeof clock !== 'bigint' || clock < -MAX_I64 - 1n || clock > MAX_I64) {
    throw new KoyoPgoutputError(
      'INVALID_OPTION',
      `clock must be a bigint of µs since 2000-01-01 (int64), got ${String(clock)}.`,
    );
  }
  const body = Buffer.alloc(34);
  body[0] = 0x72; // r
  body.writeBigUInt64BE(written, 1);
  body.writeBigUInt64BE(flushed, 9);
  body.writeBigUInt64BE(applied, 17);
  body.writeBigInt64BE(clock, 25);
  body[33] = update.replyRequested ? 1 : 0;
  return body;
}
