import {
  encodeStandbyStatusUpdate,
  formatLsn,
  parseCopyData,
  PgoutputDecoder,
  type PgoutputMessage,
} from '@koyo/pgoutput';
import {
  backoffDelay,
  resolveReconnect,
  type ReconnectOptions,
  type ResolvedReconnect,
} from './backoff.js';
import type { ConnectionOptions } from './connection.js';
import {
  classifyError,
  isPublicationMissing,
  KoyoSlotError,
  publicationMissingError,
  type ServerNotice,
} from './errors.js';
import { assertPublicationName, assertSlotName } from './identifiers.js';
import { silentLogger, type Logger } from './logger.js';
import type { PgoutputOptions, ProtocolVersion } from './protocol.js';
import {
  ReplicationConnection,
  type PgConnection,
  type ServerFacts,
} from './replication-connection.js';
import { observeStream } from './stream-metrics.js';
import { TransactionTracker } from './transaction-tracker.js';

/** Options of {@link openReplicationStream}. */
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

/** What a stream yields: a decoded pgoutput message, or notice that the connection was replaced. */
export type ReplicationEvent =
  | {
      kind: 'message';
      /** The XLogData frame's WAL start: for a commit, its end LSN; 0 for messages without a position (relation, type). */
      lsn: bigint;
      walEnd: bigint;
      message: PgoutputMessage;
    }
  | {
      /**
       * The connection was lost and a new one streams again from `startLsn` (the last confirmed
       * position). Drop any half-assembled transaction: it will be sent again in full.
       */
      kind: 'reconnected';
      startLsn: bigint;
      /** Which attempt succeeded (1 = the first retry). */
      attempt: number;
    };

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

/** Bytes counted per buffered message on top of its payload: the objects around it. */
const MESSAGE_OVERHEAD = 160;
const DEFAULT_BUFFER_SIZE = 8 * 1024 * 1024;
const DEFAULT_STATUS_INTERVAL_MS = 10_000;
const DEFAULT_ACK_DELAY_MS = 100;
/** setTimeout fires at once for longer delays. */
const MAX_TIMER_MS = 2_147_483_647;

interface FrameItem {
  frame: true;
  payload: Buffer;
  lsn: bigint;
  walEnd: bigint;
  size: number;
}

interface StartItem {
  frame: false;
  reconnect: boolean;
  startLsn: bigint;
  attempt: number;
  protocolVersion: ProtocolVersion;
}

type Item = FrameItem | StartItem;

interface KeepaliveMark {
  walEnd: bigint;
  /** Highest position received on this connection when the keepalive arrived. */
  received: bigint;
  /** Whether a transaction was open then. */
  open: boolean;
}

function assertOptions(options: ReplicationStreamOptions): void {
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

class ReplicationStreamImpl implements ReplicationStream {
  readonly #options: ReplicationStreamOptions;
  readonly #pgoutput: PgoutputOptions;
  readonly #reconnect: ResolvedReconnect;
  readonly #logger: Logger;
  readonly #bufferSize: number;
  readonly #ackDelayMs: number;
  readonly #tracker = new TransactionTracker();

  // consumer side
  #queue: (Item | undefined)[] = [];
  #head = 0;
  #bufferedBytes = 0;
  #bytesReceived = 0;
  #reconnects = 0;
  readonly #unobserve: () => void;
  #wake: (() => void) | undefined;
  #decoder: PgoutputDecoder | undefined;
  #decoderVersion = 0;
  #iterating = false;
  #fatal: KoyoSlotError | undefined;
  #closed = false;
  #finished = false;

  // positions
  #received = 0n;
  #delivered = 0n;
  #connectionReceived = 0n;
  #flushed = 0n;
  #keepalive: KeepaliveMark | undefined;

  // connection side
  #connection: ReplicationConnection | undefined;
  #connectionRun: Promise<void> | undefined;
  #pgConnection: PgConnection | undefined;
  #streaming = false;
  #paused = false;
  #lastReceiveAt = 0;
  #statusTimer: NodeJS.Timeout | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #statusIntervalMs = 0;
  #deadAfterMs = 0;
  #serverVersionNum = 0;
  #protocolVersion = 0;
  #stopping = false;
  #stopPromise: Promise<void> | undefined;
  #sleepTimer: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  readonly #runPromise: Promise<void>;
  #ready: {
    promise: Promise<void>;
    resolve: () => void;
    reject: (error: unknown) => void;
    settled: boolean;
  };

  constructor(options: ReplicationStreamOptions) {
    assertOptions(options);
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#reconnect = resolveReconnect(options.reconnect);
    this.#bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    this.#ackDelayMs = options.ackDelayMs ?? DEFAULT_ACK_DELAY_MS;
    this.#unobserve = observeStream(options.slot, () => this);
    this.#pgoutput = {
      protocolVersion: options.protocolVersion ?? 'auto',
      publications: [...options.publications],
      binary: options.binary ?? false,
      messages: options.messages ?? false,
      origin: options.origin,
      streaming: options.streaming ?? false,
      twoPhase: options.twoPhase ?? false,
    };
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.#ready = { promise, resolve, reject, settled: false };
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) this.#stopping = true;
      else signal.addEventListener('abort', () => void this.stop(), { once: true });
    }
    this.#runPromise = this.#run();
  }

  get receivedLsn(): bigint {
    return this.#received;
  }

  get deliveredLsn(): bigint {
    return this.#delivered;
  }

  get flushedLsn(): bigint {
    return this.#flushed;
  }

  get protocolVersion(): number {
    return this.#protocolVersion;
  }

  get serverVersionNum(): number {
    return this.#serverVersionNum;
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  get statusIntervalMs(): number {
    return this.#statusIntervalMs;
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  get paused(): boolean {
    return this.#paused;
  }

  ready(): Promise<void> {
    return this.#ready.promise;
  }

  acknowledge(lsn: bigint): void {
    if (typeof lsn !== 'bigint') {
      throw new KoyoSlotError(
        'INVALID_ACK',
        `acknowledge() takes a bigint LSN (a commit's endLsn); got ${typeof lsn}.`,
      );
    }
    if (lsn > this.#delivered) {
      throw new KoyoSlotError(
        'INVALID_ACK',
        `acknowledge(${formatLsn(lsn)}) is beyond the highest position this stream has delivered (${formatLsn(this.#delivered)}): acknowledge a commit's endLsn after processing it, never a position you have not been given.`,
      );
    }
    if (lsn > this.#flushed) {
      this.#flushed = lsn;
      this.#scheduleAckStatus();
    }
  }

  /**
   * Sends the acknowledged position soon, not only at the next periodic status update: a consumer
   * restarted more often than `statusIntervalMs` would otherwise never move the slot. One timer
   * at a time coalesces a burst of acknowledgements into one status update.
   */
  #scheduleAckStatus(): void {
    if (this.#ackTimer !== undefined || !this.#streaming || !Number.isFinite(this.#ackDelayMs))
      return;
    this.#ackTimer = setTimeout(
      () => {
        this.#ackTimer = undefined;
        this.#sendStatus();
      },
      Math.min(this.#ackDelayMs, MAX_TIMER_MS),
    );
  }

  // ---------------------------------------------------------------- connection loop

  async #run(): Promise<void> {
    let failures = 0;
    let streamedBefore = false;
    while (!this.#stopping) {
      const connection = new ReplicationConnection({
        connection: this.#options.connection,
        slot: this.#options.slot,
        publications: this.#pgoutput.publications,
        pgoutput: this.#pgoutput,
        startLsn: () => {
          const start = this.#options.startLsn ?? 0n;
          return start > this.#flushed ? start : this.#flushed;
        },
      });
      this.#connection = connection;
      let outcome: unknown;
      let started = false;
      try {
        this.#connectionRun = connection.run({
          onStart: (facts, pgConnection) => {
            started = true;
            this.#onStart(facts, pgConnection, streamedBefore, failures);
          },
          onCopyData: (body) => this.#onCopyData(body),
          onNotice: (notice) => this.#onNotice(notice),
        });
        await this.#connectionRun;
      } catch (error) {
        outcome = error;
      }
      this.#onConnectionEnd();
      await connection.close(1_000);
      if (this.#stopping) break;
      if (started) {
        streamedBefore = true;
        failures = 0;
      }
      const { retry, error } =
        outcome === undefined
          ? {
              retry: true,
              error: new KoyoSlotError(
                'CONNECTION_FAILED',
                'The server ended the replication stream.',
              ),
            }
          : this.#classify(outcome, streamedBefore);
      if (!retry) {
        this.#fail(error);
        return;
      }
      failures++;
      if (failures > this.#reconnect.maxAttempts) {
        this.#fail(
          new KoyoSlotError(
            'RECONNECT_FAILED',
            `Gave up reconnecting after ${failures - 1} attempts: ${error.message}`,
            { cause: error },
          ),
        );
        return;
      }
      // Messages of the lost connection that nobody consumed are sent again by the next one.
      this.#dropQueue();
      const delay = backoffDelay(failures, this.#reconnect);
      this.#logger.warn(
        {
          err: error,
          code: error.code,
          attempt: failures,
          delayMs: delay,
          slot: this.#options.slot,
        },
        `replication connection failed (${error.code}); retrying in ${delay} ms`,
      );
      await this.#sleep(delay);
    }
    this.#closed = true;
    this.#wakeConsumer();
    if (!this.#ready.settled) {
      this.#ready.settled = true;
      this.#ready.resolve();
    }
  }

  /** A publication that is missing after the stream has run is one that was dropped under it. */
  #classify(error: unknown, streamedBefore: boolean): { retry: boolean; error: KoyoSlotError } {
    const classified = classifyError(error, {
      slot: this.#options.slot,
      publications: this.#pgoutput.publications,
    });
    if (!streamedBefore || classified.error.code !== 'PUBLICATION_NOT_FOUND') return classified;
    const cause = classified.error.cause ?? classified.error;
    const notice: ServerNotice = {
      message: (cause as Error).message,
      code: classified.error.sqlState,
      detail: classified.error.detail,
      hint: classified.error.hint,
    };
    return {
      retry: false,
      error: publicationMissingError(notice, {
        slot: this.#options.slot,
        publications: this.#pgoutput.publications,
        confirmedLsn: formatLsn(this.#flushed),
        cause,
      }),
    };
  }

  /**
   * PostgreSQL 16+ only warns when a publication is dropped under a running stream, then skips
   * every change while it is missing: going on would confirm positions past changes that were
   * never sent. So the warning ends the stream at once: no status update after it (not even the
   * idle-WAL keepalive position), no frame after it is read.
   */
  #onNotice(notice: ServerNotice & { severity?: string | undefined }): void {
    if (!isPublicationMissing(notice)) {
      this.#logger.warn(
        { notice: notice.message, code: notice.code },
        `PostgreSQL ${notice.severity ?? 'NOTICE'}: ${notice.message}`,
      );
      return;
    }
    if (this.#stopping) return;
    const pgConnection = this.#pgConnection;
    this.#streaming = false;
    this.#keepalive = undefined;
    clearInterval(this.#statusTimer);
    clearTimeout(this.#ackTimer);
    this.#fail(
      publicationMissingError(notice, {
        slot: this.#options.slot,
        publications: this.#pgoutput.publications,
        confirmedLsn: formatLsn(this.#flushed),
      }),
    );
    pgConnection?.stream.destroy();
  }

  #onStart(
    facts: ServerFacts,
    pgConnection: PgConnection,
    reconnect: boolean,
    attempt: number,
  ): void {
    this.#pgConnection = pgConnection;
    this.#streaming = true;
    if (reconnect) this.#reconnects++;
    this.#serverVersionNum = facts.serverVersionNum;
    this.#protocolVersion = facts.protocolVersion;
    if (facts.confirmedFlushLsn > this.#flushed) this.#flushed = facts.confirmedFlushLsn;
    this.#connectionReceived = 0n;
    this.#keepalive = undefined;
    this.#tracker.reset();
    this.#lastReceiveAt = Date.now();
    const requested = this.#options.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS;
    const timeout = facts.walSenderTimeoutMs;
    this.#statusIntervalMs =
      timeout > 0 ? Math.max(1, Math.min(requested, Math.floor(timeout / 2))) : requested;
    // A server that says nothing for this long while we read, though asked for a keepalive at every status update, is gone.
    this.#deadAfterMs = Math.max(4 * this.#statusIntervalMs, timeout, 30_000);
    clearInterval(this.#statusTimer);
    this.#statusTimer = setInterval(() => this.#onStatusTimer(), this.#statusIntervalMs);
    this.#statusTimer.unref();
    // An acknowledgement made while reconnecting is not known to the server yet.
    if (this.#flushed > facts.confirmedFlushLsn) this.#scheduleAckStatus();
    this.#push(
      {
        frame: false,
        reconnect,
        startLsn: facts.startLsn,
        attempt,
        protocolVersion: facts.protocolVersion,
      },
      0,
    );
    this.#logger.info(
      {
        slot: this.#options.slot,
        startLsn: formatLsn(facts.startLsn),
        protocolVersion: facts.protocolVersion,
        serverVersionNum: facts.serverVersionNum,
        statusIntervalMs: this.#statusIntervalMs,
      },
      reconnect ? 'replication stream reconnected' : 'replication stream started',
    );
    if (!this.#ready.settled) {
      this.#ready.settled = true;
      this.#ready.resolve();
    }
  }

  #onConnectionEnd(): void {
    this.#streaming = false;
    this.#pgConnection = undefined;
    this.#paused = false;
    clearInterval(this.#statusTimer);
    this.#statusTimer = undefined;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  #onCopyData(body: Buffer): void {
    if (this.#stopping || !this.#streaming) return;
    this.#lastReceiveAt = Date.now();
    let frame: ReturnType<typeof parseCopyData>;
    try {
      frame = parseCopyData(body);
    } catch (error) {
      this.#fail(
        new KoyoSlotError(
          'DECODE_FAILED',
          `Unreadable replication frame: ${(error as Error).message}`,
          { cause: error },
        ),
      );
      void this.#connection?.close(0);
      return;
    }
    if (frame.tag === 'xlogdata') {
      // pg reuses its read buffer: keep a copy.
      const payload = Buffer.from(frame.payload);
      this.#tracker.observe(payload);
      const lsn = frame.walStart;
      if (lsn > this.#connectionReceived) this.#connectionReceived = lsn;
      if (lsn > this.#received) this.#received = lsn;
      this.#bytesReceived += payload.length;
      const size = payload.length + MESSAGE_OVERHEAD;
      this.#push({ frame: true, payload, lsn, walEnd: frame.walEnd, size }, size);
      return;
    }
    this.#keepalive = {
      walEnd: frame.walEnd,
      received: this.#connectionReceived,
      open: this.#tracker.open,
    };
    if (frame.replyRequested) this.#sendStatus();
  }

  /** The flush position to report: acknowledged, or the last idle keepalive's WAL end when everything before it is acknowledged. */
  #flushPosition(): bigint {
    const mark = this.#keepalive;
    if (mark && !mark.open && this.#flushed >= mark.received && mark.walEnd > this.#flushed) {
      this.#flushed = mark.walEnd;
    }
    return this.#flushed;
  }

  #sendStatus(replyRequested = false): void {
    const connection = this.#pgConnection;
    if (!connection || !this.#streaming) return;
    const flushed = this.#flushPosition();
    const written = this.#connectionReceived > flushed ? this.#connectionReceived : flushed;
    try {
      connection.sendCopyFromChunk(
        encodeStandbyStatusUpdate({ written, flushed, applied: flushed, replyRequested }),
      );
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not send a status update');
    }
  }

  #onStatusTimer(): void {
    // A server that has said nothing for a while is asked for a keepalive, so silence means a dead peer.
    const silentMs = Date.now() - this.#lastReceiveAt;
    this.#sendStatus(!this.#paused && silentMs >= this.#statusIntervalMs);
    if (!this.#paused && silentMs > this.#deadAfterMs) {
      this.#logger.warn(
        { silentMs: Date.now() - this.#lastReceiveAt },
        'no data or keepalive from the server; dropping the connection',
      );
      this.#pgConnection?.stream.destroy(
        new Error(`No message from the server for ${this.#deadAfterMs} ms.`),
      );
    }
  }

  // ---------------------------------------------------------------- buffer and backpressure

  #push(item: Item, size: number): void {
    this.#queue.push(item);
    this.#bufferedBytes += size;
    if (!this.#paused && this.#bufferedBytes >= this.#bufferSize && this.#pgConnection) {
      this.#paused = true;
      this.#pgConnection.stream.pause();
    }
    this.#wakeConsumer();
  }

  #shift(): Item | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const item = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (item?.frame) {
      this.#bufferedBytes -= item.size;
      if (this.#paused && this.#bufferedBytes <= this.#bufferSize / 2) this.#resume();
    }
    return item;
  }

  #resume(): void {
    this.#paused = false;
    this.#lastReceiveAt = Date.now();
    this.#pgConnection?.stream.resume();
  }

  #dropQueue(): void {
    this.#queue = [];
    this.#head = 0;
    this.#bufferedBytes = 0;
  }

  #wakeConsumer(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #fail(error: KoyoSlotError): void {
    if (this.#fatal || this.#closed) return;
    this.#fatal = error;
    this.#stopping = true;
    this.#logger.error(
      { err: error, code: error.code, slot: this.#options.slot },
      `replication stream failed: ${error.message}`,
    );
    if (!this.#ready.settled) {
      this.#ready.settled = true;
      this.#ready.reject(error);
    }
    this.#wakeSleeper();
    this.#wakeConsumer();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleepTimer = undefined;
        resolve();
      }, ms);
      this.#sleepTimer = { timer, resolve };
    });
  }

  #wakeSleeper(): void {
    const sleeper = this.#sleepTimer;
    this.#sleepTimer = undefined;
    if (sleeper) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
  }

  // ---------------------------------------------------------------- consumer

  async #next(): Promise<IteratorResult<ReplicationEvent, undefined>> {
    for (;;) {
      if (this.#finished || (this.#closed && !this.#fatal)) return { done: true, value: undefined };
      const item = this.#shift();
      if (item === undefined) {
        if (this.#fatal) {
          this.#finished = true;
          throw this.#fatal;
        }
        if (this.#closed) return { done: true, value: undefined };
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      if (!item.frame) {
        if (!this.#decoder || this.#decoderVersion !== item.protocolVersion) {
          this.#decoder = new PgoutputDecoder({
            protocolVersion: item.protocolVersion,
            binary: this.#pgoutput.binary,
            ...(this.#options.parse === undefined ? {} : { parse: this.#options.parse }),
            ...(this.#options.typeParsers === undefined
              ? {}
              : { typeParsers: this.#options.typeParsers }),
          });
          this.#decoderVersion = item.protocolVersion;
        } else {
          this.#decoder.reset();
        }
        if (item.reconnect)
          return {
            done: false,
            value: { kind: 'reconnected', startLsn: item.startLsn, attempt: item.attempt },
          };
        continue;
      }
      let message: PgoutputMessage;
      try {
        message = this.#decoder!.decode(item.payload);
      } catch (error) {
        const failure = new KoyoSlotError(
          'DECODE_FAILED',
          `Could not decode a replication message at ${item.lsn}: ${(error as Error).message}`,
          { cause: error },
        );
        this.#fail(failure);
        this.#dropQueue();
        this.#finished = true;
        void this.stop();
        throw failure;
      }
      if (item.lsn > this.#delivered) this.#delivered = item.lsn;
      return {
        done: false,
        value: { kind: 'message', lsn: item.lsn, walEnd: item.walEnd, message },
      };
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplicationEvent, undefined> {
    if (this.#iterating) {
      throw new KoyoSlotError(
        'STREAM_CLOSED',
        'This replication stream is already being iterated: iterate it once, with one for await loop.',
      );
    }
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: async () => {
        await this.stop();
        return { done: true, value: undefined };
      },
    };
  }

  // ---------------------------------------------------------------- stop

  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#wakeSleeper();
    const connection = this.#connection;
    if (this.#streaming && this.#pgConnection && connection && !connection.ended) {
      this.#sendStatus();
      this.#streaming = false;
      const pgConnection = this.#pgConnection;
      clearInterval(this.#statusTimer);
      clearTimeout(this.#ackTimer);
      // Read (and ignore) what the server still sends, so it can see our CopyDone and finish.
      if (this.#paused) pgConnection.stream.resume();
      try {
        pgConnection.endCopyFrom();
      } catch {
        // the socket is already gone
      }
      // The server answers CopyDone with CopyDone and CommandComplete; then the session can end cleanly.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#connectionRun?.catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 5_000);
        }),
      ]);
      clearTimeout(timer);
    }
    await connection?.close(5_000);
    await this.#runPromise;
    this.#closed = true;
    this.#unobserve();
    this.#dropQueue();
    this.#wakeConsumer();
  }
}

/**
 * Opens a logical replication stream on an existing pgoutput slot. It connects in the background
 * and reconnects by itself; iterate it to get decoded messages, and call `acknowledge(commit.endLsn)`
 * once a transaction is processed: only acknowledged positions are ever confirmed to the server.
 *
 * @example
 * const stream = openReplicationStream({ connection: url, slot: 'koyo', publications: ['koyo'] });
 * for await (const event of stream) {
 *   if (event.kind === 'reconnected') { pending = []; continue; }
 *   const m = event.message;
 *   if (m.tag === 'insert') pending.push(m.new);
 *   if (m.tag === 'commit') { await save(pending); pending = []; stream.acknowledge(m.endLsn); }
 * }
 */
export function openReplicationStream(options: ReplicationStreamOptions): ReplicationStream {
  return new ReplicationStreamImpl(options);
}
