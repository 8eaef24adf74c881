// The public shapes of a replication stream: its options (checked by assertOptions) and its interface.
import type { ReconnectOptions } from './backoff.js';
import type { ConnectionOptions } from './connection.js';
import { KoyoSlotError } from './errors.js';
import { assertPublicationName, assertSlotName } from './identifiers.js';
import type { Logger } from './logger.js';
import type { PgoutputOptions, ProtocolVersion } from './protocol.js';
import type { ReplicationEvent } from './stream-events.js';

/** Default of `bufferSize`. */
export const DEFAULT_BUFFER_SIZE = 8 * 1024 * 1024;
/** Default of `ackDelayMs`. */
export const DEFAULT_ACK_DELAY_MS = 100;

/** Options of `openReplicationStream`. */
export interface ReplicationStreamOptions {
  /** A `postgres://` URL or a `pg` ClientConfig (TLS, SCRAM etc. work as in `pg`). `replication: 'database'` is added. */
  connection: ConnectionOptions;
  /** The logical slot (pgoutput) to stream from. It must exist: see `SlotManager.ensureSlot`. */
  slot: string;
  /** Publications to stream (at least one). */
  publications: string[];
  /** Start here if it is later than the slot's confirmed position. Default: the slot's confirmed position. */
  startLsn?: bigint;
  /** pgoutput protocol version. `auto` (default) = the highest the server supports: PG14 2, PG15 3, PG16+ 4. */
  protocolVersion?: 'auto' | ProtocolVersion;
  /** Ask the server for binary column values (PG14+). Default false. */
  binary?: boolean;
  /** Also stream `pg_logical_emit_message()` messages (PG14+). Default false. */
  messages?: boolean;
  /** PG16+: `none` streams only changes that did not come from another replication origin. */
  origin?: 'any' | 'none';
  /** Stream large in-progress transactions before they commit (protocol 2+; `parallel` needs 4). Default false. */
  streaming?: boolean | 'parallel';
  /** Decode prepared transactions at PREPARE (protocol 3+, slot made with `twoPhase`). Default false. */
  twoPhase?: boolean;
  /** How often a status update is sent, in ms. Default 10 000; never more than half of the server's `wal_sender_timeout`. */
  statusIntervalMs?: number;
  /**
   * How long after an `acknowledge()` the new position is sent to the server, in ms. Default 100.
   * Acknowledgements within this window share one status update, so a busy consumer sends at most
   * one per `ackDelayMs`; the keepalive timer (`statusIntervalMs`) is independent of it.
   * `Infinity` sends acknowledged positions only with the periodic status updates.
   */
  ackDelayMs?: number;
  /**
   * How many bytes of received messages may wait for the consumer (pgoutput payload bytes plus
   * a fixed overhead per message). When full, the socket is paused. Default 8 MiB.
   */
  bufferSize?: number;
  /** Reconnect backoff. */
  reconnect?: ReconnectOptions;
  /** Parse column values like `pg` does for a SELECT (default true); `false` leaves text. */
  parse?: boolean;
  /** Per type OID parsers that win over the defaults. */
  typeParsers?: Record<number, (value: string) => unknown>;
  /** Aborting it stops the stream, as `stop()` does. */
  signal?: AbortSignal;
  /** A pino-compatible logger for connection events. */
  logger?: Logger;
}

/** A running replication stream. Iterate it once with `for await`. */
export interface ReplicationStream extends AsyncIterable<ReplicationEvent> {
  /**
   * Confirms that everything up to `lsn` (a commit's `endLsn`) is processed and may be released
   * by the server. Monotonic (a lower value is ignored); throws `INVALID_ACK` for a position
   * beyond {@link ReplicationStream.deliveredLsn} (what this iterator has handed out), so a
   * position that is still buffered can never be confirmed by mistake. Sent to the server within
   * `ackDelayMs` (one status update for all acknowledgements in that window) and on `stop()`.
   */
  acknowledge(lsn: bigint): void;
  /** Sends a final status update, ends COPY and closes the connection. Unconsumed messages are dropped (they were not acknowledged, so the server keeps them). */
  stop(): Promise<void>;
  /** Resolves once the server accepted START_REPLICATION the first time; rejects with the error that ended the stream before that. */
  ready(): Promise<void>;
  /** The highest WAL position received from the server (it may still wait in the buffer). */
  readonly receivedLsn: bigint;
  /** The highest WAL position handed to the consumer by the iterator: the limit of `acknowledge()`. */
  readonly deliveredLsn: bigint;
  /** The flush position reported to the server: the last acknowledged LSN (or an idle keepalive's WAL end). */
  readonly flushedLsn: bigint;
  /** The pgoutput protocol version in use (0 before the first connection). */
  readonly protocolVersion: number;
  /** The server's `server_version_num` (0 before the first connection). */
  readonly serverVersionNum: number;
  /** Bytes waiting for the consumer (as counted for `bufferSize`). */
  readonly bufferedBytes: number;
  /** The status update interval in use, after capping at half of `wal_sender_timeout`. */
  readonly statusIntervalMs: number;
  /** Times the stream reconnected after losing its connection. */
  readonly reconnects: number;
  /** Bytes of pgoutput payload received since the stream opened. */
  readonly bytesReceived: number;
  /** Whether the socket is paused because the buffer is full (backpressure). */
  readonly paused: boolean;
}

/** Checks the options of `openReplicationStream`; throws `INVALID_OPTION` (or `INVALID_IDENTIFIER`) naming the bad one. */
export function assertOptions(options: ReplicationStreamOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'openReplicationStream needs an options object: { connection, slot, publications }.',
    );
  }
  assertSlotName(options.slot);
  if (!Array.isArray(options.publications) || options.publications.length === 0) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'publications must be a non-empty array of publication names, like ["koyo_orders"].',
    );
  }
  for (const name of options.publications) assertPublicationName(name);
  if (
    options.startLsn !== undefined &&
    (typeof options.startLsn !== 'bigint' || options.startLsn < 0n)
  ) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'startLsn must be a non-negative bigint (use parseLsn("16/B374D848")).',
    );
  }
  const version = options.protocolVersion ?? 'auto';
  if (version !== 'auto' && ![1, 2, 3, 4].includes(version)) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `protocolVersion must be 'auto', 1, 2, 3 or 4; got ${String(version)}.`,
    );
  }
  const positive = (name: string, value: unknown): void => {
    if (
      value !== undefined &&
      (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    ) {
      throw new KoyoSlotError(
        'INVALID_OPTION',
        `${name} must be a positive number; got ${String(value)}.`,
      );
    }
  };
  positive('statusIntervalMs', options.statusIntervalMs);
  const ackDelayMs = options.ackDelayMs;
  if (
    ackDelayMs !== undefined &&
    (typeof ackDelayMs !== 'number' || Number.isNaN(ackDelayMs) || ackDelayMs < 1)
  ) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `ackDelayMs must be a number >= 1 (or Infinity to send acknowledgements only with the periodic status updates); got ${String(ackDelayMs)}.`,
    );
  }
  positive('bufferSize', options.bufferSize);
  positive('reconnect.initialDelayMs', options.reconnect?.initialDelayMs);
  positive('reconnect.maxDelayMs', options.reconnect?.maxDelayMs);
  positive('reconnect.maxAttempts', options.reconnect?.maxAttempts);
  if (options.origin !== undefined && options.origin !== 'any' && options.origin !== 'none') {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `origin must be 'any' or 'none'; got ${String(options.origin)}.`,
    );
  }
  if (
    options.streaming !== undefined &&
    typeof options.streaming !== 'boolean' &&
    options.streaming !== 'parallel'
  ) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `streaming must be true, false or 'parallel'; got ${String(options.streaming)}.`,
    );
  }
}

/** The pgoutput settings the options ask for, defaults applied. */
export function pgoutputOptions(options: ReplicationStreamOptions): PgoutputOptions {
  return {
    protocolVersion: options.protocolVersion ?? 'auto',
    publications: [...options.publications],
    binary: options.binary ?? false,
    messages: options.messages ?? false,
    origin: options.origin,
    streaming: options.streaming ?? false,
    twoPhase: options.twoPhase ?? false,
  };
}
