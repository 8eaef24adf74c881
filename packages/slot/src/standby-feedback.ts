import { encodeStandbyStatusUpdate } from '@koyo/pgoutput';
import type { Logger } from './logger.js';

/** Default of `statusIntervalMs`. */
export const DEFAULT_STATUS_INTERVAL_MS = 10_000;
/** setTimeout fires at once for longer delays. */
const MAX_TIMER_MS = 2_147_483_647;

/** The connection a {@link StandbyFeedback} reports to. */
export interface FeedbackLink {
  /** Sends one CopyData chunk to the server. */
  send(chunk: Uint8Array): void;
  /** Whether reading is paused by backpressure (silence is then expected, not a dead peer). */
  paused(): boolean;
  /** Drops the connection: the server has been silent for too long. */
  drop(error: Error): void;
}

/** What the server said when streaming started. */
export interface FeedbackStart {
  /** The server's `wal_sender_timeout` in ms (0: none). */
  walSenderTimeoutMs: number;
  /** The slot's `confirmed_flush_lsn` when streaming started. */
  confirmedFlushLsn: bigint;
}

/** Options of {@link StandbyFeedback}. */
export interface StandbyFeedbackOptions {
  /** Requested status update interval (capped at half of `wal_sender_timeout`). */
  statusIntervalMs?: number | undefined;
  /** How long after an acknowledgement the position is sent (`Infinity`: only periodically). */
  ackDelayMs: number;
  logger: Logger;
}

interface KeepaliveMark {
  walEnd: bigint;
  /** Highest position received on this connection when the keepalive arrived. */
  received: bigint;
  /** Whether a transaction was open then. */
  open: boolean;
}

/**
 * The standby side of the replication protocol: the acknowledged (flushed) position, standby
 * status updates (periodic, soon after an acknowledgement, and on request) and the dead-peer
 * timer (a server silent for long though asked for keepalives is dropped).
 */
export class StandbyFeedback {
  readonly #requestedIntervalMs: number;
  readonly #ackDelayMs: number;
  readonly #logger: Logger;
  #link: FeedbackLink | undefined;
  #flushed = 0n;
  #connectionReceived = 0n;
  #keepalive: KeepaliveMark | undefined;
  #lastReceiveAt = 0;
  #statusTimer: NodeJS.Timeout | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #statusIntervalMs = 0;
  #deadAfterMs = 0;

  constructor(options: StandbyFeedbackOptions) {
    this.#requestedIntervalMs = options.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS;
    this.#ackDelayMs = options.ackDelayMs;
    this.#logger = options.logger;
  }

  /** The flush position: the highest acknowledged LSN (or an idle keepalive's WAL end). */
  get flushed(): bigint {
    return this.#flushed;
  }

  /** The status update interval in use (0 before the first start). */
  get statusIntervalMs(): number {
    return this.#statusIntervalMs;
  }

  /** Moves the flush position forward (a lower `lsn` is ignored) and sends it within `ackDelayMs`. */
  acknowledge(lsn: bigint): void {
    if (lsn <= this.#flushed) return;
    this.#flushed = lsn;
    this.#scheduleAckStatus();
  }

  /** Streaming started on `link`: the timers run until {@link StandbyFeedback.detach}. */
  attach(link: FeedbackLink, start: FeedbackStart): void {
    this.#link = link;
    if (start.confirmedFlushLsn > this.#flushed) this.#flushed = start.confirmedFlushLsn;
    this.#connectionReceived = 0n;
    this.#keepalive = undefined;
    this.#lastReceiveAt = Date.now();
    const requested = this.#requestedIntervalMs;
    const timeout = start.walSenderTimeoutMs;
    this.#statusIntervalMs =
      timeout > 0 ? Math.max(1, Math.min(requested, Math.floor(timeout / 2))) : requested;
    // A server that says nothing for this long while we read, though asked for a keepalive at every status update, is gone.
    this.#deadAfterMs = Math.max(4 * this.#statusIntervalMs, timeout, 30_000);
    clearInterval(this.#statusTimer);
    this.#statusTimer = setInterval(() => this.#onStatusTimer(), this.#statusIntervalMs);
    this.#statusTimer.unref();
    // An acknowledgement made while reconnecting is not known to the server yet.
    if (this.#flushed > start.confirmedFlushLsn) this.#scheduleAckStatus();
  }

  /** Streaming ended (or must not report any more): stops the timers; nothing is sent after this. */
  detach(): void {
    this.#link = undefined;
    this.#keepalive = undefined;
    clearInterval(this.#statusTimer);
    this.#statusTimer = undefined;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  /** The server sent something (any CopyData, or reading resumed after a pause). */
  touch(): void {
    this.#lastReceiveAt = Date.now();
  }

  /** An XLogData frame at `lsn` arrived on this connection. */
  received(lsn: bigint): void {
    if (lsn > this.#connectionReceived) this.#connectionReceived = lsn;
  }

  /** A primary keepalive: remembers its WAL end, and answers at once when the server asks. */
  keepalive(walEnd: bigint, transactionOpen: boolean, replyRequested: boolean): void {
    this.#keepalive = { walEnd, received: this.#connectionReceived, open: transactionOpen };
    if (replyRequested) this.send();
  }

  /** Sends a standby status update now (nothing when detached). */
  send(replyRequested = false): void {
    const link = this.#link;
    if (!link) return;
    const flushed = this.#flushPosition();
    const written = this.#connectionReceived > flushed ? this.#connectionReceived : flushed;
    try {
      link.send(encodeStandbyStatusUpdate({ written, flushed, applied: flushed, replyRequested }));
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not send a status update');
    }
  }

  /**
   * Sends the acknowledged position soon, not only at the next periodic status update: a consumer
   * restarted more often than `statusIntervalMs` would otherwise never move the slot. One timer
   * at a time coalesces a burst of acknowledgements into one status update.
   */
  #scheduleAckStatus(): void {
    if (this.#ackTimer !== undefined || !this.#link || !Number.isFinite(this.#ackDelayMs)) return;
    this.#ackTimer = setTimeout(
      () => {
        this.#ackTimer = undefined;
        this.send();
      },
      Math.min(this.#ackDelayMs, MAX_TIMER_MS),
    );
  }

  /** The flush position to report: acknowledged, or the last idle keepalive's WAL end when everything before it is acknowledged. */
  #flushPosition(): bigint {
    const mark = this.#keepalive;
    if (mark && !mark.open && this.#flushed >= mark.received && mark.walEnd > this.#flushed) {
      this.#flushed = mark.walEnd;
    }
    return this.#flushed;
  }

  #onStatusTimer(): void {
    const link = this.#link;
    if (!link) return;
    // A server that has said nothing for a while is asked for a keepalive, so silence means a dead peer.
    const paused = link.paused();
    const silentMs = Date.now() - this.#lastReceiveAt;
    this.send(!paused && silentMs >= this.#statusIntervalMs);
    if (!paused && silentMs > this.#deadAfterMs) {
      this.#logger.warn(
        { silentMs: Date.now() - this.#lastReceiveAt },
        'no data or keepalive from the server; dropping the connection',
      );
      link.drop(new Error(`No message from the server for ${this.#deadAfterMs} ms.`));
    }
  }
}
