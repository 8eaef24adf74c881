import { formatLsn, parseCopyData } from '@koyo/pgoutput';
import { resolveReconnect } from './backoff.js';
import { ByteBoundedQueue } from './byte-queue.js';
import { classifyConnectionError, ConnectionLoop } from './connection-loop.js';
import {
  isPublicationMissing,
  KoyoSlotError,
  publicationMissingError,
  type ServerNotice,
} from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import type { PgoutputOptions } from './protocol.js';
import {
  ReplicationConnection,
  type PgConnection,
  type ServerFacts,
} from './replication-connection.js';
import { SettleOnce } from './settle-once.js';
import { StandbyFeedback } from './standby-feedback.js';
import { StreamConsumer } from './stream-consumer.js';
import {
  EventDecoder,
  frameItem,
  type ReplicationEvent,
  type StreamItem,
} from './stream-events.js';
import { observeStream } from './stream-metrics.js';
import {
  assertOptions,
  DEFAULT_ACK_DELAY_MS,
  DEFAULT_BUFFER_SIZE,
  pgoutputOptions,
  type ReplicationStream,
  type ReplicationStreamOptions,
} from './stream-api.js';
import { TransactionTracker } from './transaction-tracker.js';

// The stream is put together from small units: its public shapes (stream-api.ts), the connection and
// reconnect loop (connection-loop.ts), standby feedback and the dead-peer timer
// (standby-feedback.ts), the byte-bounded queue with backpressure (byte-queue.ts), the
// consumer's decoding (stream-events.ts) and its iterator (stream-consumer.ts). This file wires them to one another.

export type { ReplicationStream, ReplicationStreamOptions } from './stream-api.js';
export type { ReplicationEvent } from './stream-events.js';

class ReplicationStreamImpl implements ReplicationStream {
  readonly #options: ReplicationStreamOptions;
  readonly #pgoutput: PgoutputOptions;
  readonly #logger: Logger;
  readonly #tracker = new TransactionTracker();
  readonly #feedback: StandbyFeedback;
  readonly #queue: ByteBoundedQueue<StreamItem>;
  readonly #events: EventDecoder;
  readonly #loop: ConnectionLoop;
  readonly #unobserve: () => void;
  readonly #consumer: StreamConsumer;

  // positions and counters
  #received = 0n;
  #bytesReceived = 0;
  #reconnects = 0;

  // connection side
  #pgConnection: PgConnection | undefined;
  #streaming = false;
  #serverVersionNum = 0;
  #protocolVersion = 0;
  #stopPromise: Promise<void> | undefined;
  readonly #runPromise: Promise<void>;
  readonly #ready = new SettleOnce();

  constructor(options: ReplicationStreamOptions) {
    assertOptions(options);
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#feedback = new StandbyFeedback({
      statusIntervalMs: options.statusIntervalMs,
      ackDelayMs: options.ackDelayMs ?? DEFAULT_ACK_DELAY_MS,
      logger: this.#logger,
    });
    this.#queue = new ByteBoundedQueue<StreamItem>(options.bufferSize ?? DEFAULT_BUFFER_SIZE, {
      pause: () => {
        if (!this.#pgConnection) return false;
        this.#pgConnection.stream.pause();
        return true;
      },
      resume: () => {
        this.#feedback.touch();
        this.#pgConnection?.stream.resume();
      },
    });
    this.#unobserve = observeStream(options.slot, () => this);
    this.#consumer = new StreamConsumer({
      shift: () => this.#queue.shift(),
      toEvent: (item) => this.#events.toEvent(item),
      onDecodeError: (error) => {
        this.#fail(error);
        this.#queue.clear();
      },
      stop: () => this.stop(),
    });
    this.#pgoutput = pgoutputOptions(options);
    this.#events = new EventDecoder({
      binary: this.#pgoutput.binary,
      parse: options.parse,
      typeParsers: options.typeParsers,
    });
    this.#loop = new ConnectionLoop({
      reconnect: resolveReconnect(options.reconnect),
      logger: this.#logger,
      slot: options.slot,
      open: () =>
        new ReplicationConnection({
          connection: options.connection,
          slot: options.slot,
          publications: this.#pgoutput.publications,
          pgoutput: this.#pgoutput,
          startLsn: () => {
            const start = options.startLsn ?? 0n;
            const flushed = this.#feedback.flushed;
            return start > flushed ? start : flushed;
          },
        }),
      handlers: {
        onStart: (facts, pgConnection, reconnect, attempt) =>
          this.#onStart(facts, pgConnection, reconnect, attempt),
        onCopyData: (body) => this.#onCopyData(body),
        onNotice: (notice) => this.#onNotice(notice),
      },
      onEnd: () => this.#onConnectionEnd(),
      classify: (error, streamedBefore) =>
        classifyConnectionError(error, streamedBefore, {
          slot: options.slot,
          publications: this.#pgoutput.publications,
          confirmedLsn: formatLsn(this.#feedback.flushed),
        }),
      // Messages of the lost connection that nobody consumed are sent again by the next one.
      beforeRetry: () => this.#queue.clear(),
    });
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) this.#loop.stop();
      else signal.addEventListener('abort', () => void this.stop(), { once: true });
    }
    this.#runPromise = this.#run();
  }

  get receivedLsn(): bigint {
    return this.#received;
  }

  get deliveredLsn(): bigint {
    return this.#consumer.delivered;
  }

  get flushedLsn(): bigint {
    return this.#feedback.flushed;
  }

  get protocolVersion(): number {
    return this.#protocolVersion;
  }

  get serverVersionNum(): number {
    return this.#serverVersionNum;
  }

  get bufferedBytes(): number {
    return this.#queue.bytes;
  }

  get statusIntervalMs(): number {
    return this.#feedback.statusIntervalMs;
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  get paused(): boolean {
    return this.#queue.paused;
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
    if (lsn > this.#consumer.delivered) {
      throw new KoyoSlotError(
        'INVALID_ACK',
        `acknowledge(${formatLsn(lsn)}) is beyond the highest position this stream has delivered (${formatLsn(this.#consumer.delivered)}): acknowledge a commit's endLsn after processing it, never a position you have not been given.`,
      );
    }
    this.#feedback.acknowledge(lsn);
  }

  // ---------------------------------------------------------------- connection side

  async #run(): Promise<void> {
    const error = await this.#loop.run();
    if (error) {
      this.#fail(error);
      return;
    }
    this.#consumer.close();
    this.#ready.resolve();
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
    if (this.#loop.stopping) return;
    const pgConnection = this.#pgConnection;
    this.#streaming = false;
    this.#feedback.detach();
    this.#fail(
      publicationMissingError(notice, {
        slot: this.#options.slot,
        publications: this.#pgoutput.publications,
        confirmedLsn: formatLsn(this.#feedback.flushed),
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
    this.#tracker.reset();
    this.#feedback.attach(
      {
        send: (chunk) => pgConnection.sendCopyFromChunk(chunk),
        paused: () => this.#queue.paused,
        drop: (error) => pgConnection.stream.destroy(error),
      },
      facts,
    );
    this.#push({
      frame: false,
      size: 0,
      reconnect,
      startLsn: facts.startLsn,
      attempt,
      protocolVersion: facts.protocolVersion,
    });
    this.#logger.info(
      {
        slot: this.#options.slot,
        startLsn: formatLsn(facts.startLsn),
        protocolVersion: facts.protocolVersion,
        serverVersionNum: facts.serverVersionNum,
        statusIntervalMs: this.#feedback.statusIntervalMs,
      },
      reconnect ? 'replication stream reconnected' : 'replication stream started',
    );
    this.#ready.resolve();
  }

  #onConnectionEnd(): void {
    this.#streaming = false;
    this.#pgConnection = undefined;
    this.#queue.forgetPause();
    this.#feedback.detach();
  }

  #onCopyData(body: Buffer): void {
    if (this.#loop.stopping || !this.#streaming) return;
    this.#feedback.touch();
    let frame: ReturnType<typeof parseCopyData>;
    try {
      frame = parseCopyData(body);
    } catch (error) {
      this.#fail(
        new KoyoSlotError(
          'DECODE_FAILED',
          `Unreadable replication frame: ${(error as Error).message}`,
          {
            cause: error,
          },
        ),
      );
      void this.#loop.connection?.close(0);
      return;
    }
    if (frame.tag === 'xlogdata') {
      const item = frameItem(frame.payload, frame.walStart, frame.walEnd);
      this.#tracker.observe(item.payload);
      this.#feedback.received(item.lsn);
      if (item.lsn > this.#received) this.#received = item.lsn;
      this.#bytesReceived += item.payload.length;
      this.#push(item);
      return;
    }
    this.#feedback.keepalive(frame.walEnd, this.#tracker.open, frame.replyRequested);
  }

  #push(item: StreamItem): void {
    this.#queue.push(item);
    this.#consumer.wake();
  }

  #fail(error: KoyoSlotError): void {
    if (!this.#consumer.fail(error)) return;
    this.#loop.stop();
    this.#logger.error(
      { err: error, code: error.code, slot: this.#options.slot },
      `replication stream failed: ${error.message}`,
    );
    this.#ready.reject(error);
    this.#consumer.wake();
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplicationEvent, undefined> {
    return this.#consumer.iterator();
  }

  // ---------------------------------------------------------------- stop

  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  async #stop(): Promise<void> {
    this.#loop.stop();
    const connection = this.#loop.connection;
    if (this.#streaming && this.#pgConnection && connection && !connection.ended) {
      this.#feedback.send();
      this.#streaming = false;
      const pgConnection = this.#pgConnection;
      this.#feedback.detach();
      // Read (and ignore) what the server still sends, so it can see our CopyDone and finish.
      if (this.#queue.paused) pgConnection.stream.resume();
      try {
        pgConnection.endCopyFrom();
      } catch {
        // the socket is already gone
      }
      // The server answers CopyDone with CopyDone and CommandComplete; then the session can end cleanly.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#loop.connectionRun?.catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 5_000);
        }),
      ]);
      clearTimeout(timer);
    }
    await connection?.close(5_000);
    await this.#runPromise;
    this.#unobserve();
    this.#queue.clear();
    this.#consumer.close();
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
