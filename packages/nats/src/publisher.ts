import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import { createInbox, type Subscription } from '@nats-io/nats-core';
import { KoyoNatsError } from './errors.js';
import {
  encodeChunk,
  frameWriter,
  messageOf,
  sizeOf,
  type EncodedChunk,
  type FrameWriter,
  type WireMessage,
} from './wire.js';

/** Counters the publisher updates. */
export interface PublishCounters {
  published: number;
  duplicates: number;
  publishErrors: number;
}

/** What JetStream answers a publish with (an `error` member instead when it refused it). */
interface PubAckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
}

interface Chunk {
  encoded: EncodedChunk;
  /** Its PubAck comes on `<inbox>.<id>`. */
  id: string;
  /** The place of its last message, `<commitLsn>:<position>`, for the stats. */
  lastPlace: string;
  /** Called once JetStream stored every message (or with the error that gave up on them). */
  done: (error?: unknown) => void;
  /** The PubAck check of a chunk sent on the fast path: true when it proves all of it stored. */
  verified?: Promise<boolean>;
}

/** Settings of a {@link Publisher}. */
export interface PublisherOptions {
  stream: string;
  /** Chunks sent and not yet confirmed before `submit` makes its caller wait. */
  window: number;
  maxBackoffMs: number;
  /** How long a chunk's PubAck may take before it is re-sent message by message. */
  ackTimeoutMs: number;
  isStopping: () => boolean;
  onProgress: (place: string) => void;
  onWaiting: (waiting: boolean) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes chunks of messages into a stream in order, many chunks in flight, and tells each
 * chunk's `done` only when JetStream stored it and every chunk before it.
 *
 * Fast path: a chunk's messages go out as one buffer of core publishes, its last message as a
 * JetStream publish. The server handles a connection's messages in order, so a PubAck at the
 * sequence `last + n` (not a duplicate) proves all n stored, in order, with nobody else's in
 * between. Chunks are verified in order; everything sent on one socket arrives in order or loses
 * a suffix. So a chunk is sent at once only while every unconfirmed chunk before it went out on
 * the same socket. Anything else (a failed check, a timeout, a reconnect) sends the chunk and
 * every later one again, message by message with a PubAck each: `Nats-Msg-Id` makes JetStream
 * store only what it lacks, and nothing later was stored out of order since it waited.
 */
export class Publisher {
  private readonly writer: FrameWriter;
  private readonly queue: Chunk[] = [];
  /** Stream sequence after the last chunk sent on the fast path; null: to be read again. */
  private sentSeq: number | null = null;
  private sentOn: unknown = undefined;
  /** A chunk failed its check: later chunks go the slow way until the queue is empty. */
  private broken = false;
  private pumping = false;
  private waiters: (() => void)[] = [];
  /** PubAcks of fast-path chunks arrive on `<inbox>.<id>`. */
  private readonly inbox = createInbox();
  private readonly subscription: Subscription;
  private readonly acks = new Map<string, (ack: PubAckBody | null) => void>();
  private nextId = 0;

  constructor(
    private readonly connection: Parameters<typeof frameWriter>[0],
    private readonly js: JetStreamClient,
    private readonly manager: JetStreamManager,
    private readonly counters: PublishCounters,
    private readonly options: PublisherOptions,
  ) {
    this.writer = frameWriter(connection);
    this.subscription = connection.subscribe(`${this.inbox}.*`, {
      callback: (error, message) => {
        if (!error) this.onAck(message.subject, message.data);
      },
    });
  }

  /** Chunks not yet confirmed. */
  get inFlight(): number {
    return this.queue.length;
  }

  /**
   * Queues a chunk (`lastPlace`: where its last message is, for the stats); resolves at once, or
   * once fewer than `window` chunks are in flight. Throws `MESSAGE_TOO_LARGE` for a message above
   * the server's max_payload.
   */
  submit(
    messages: readonly WireMessage[],
    lastPlace: string,
    done: (error?: unknown) => void,
  ): void | Promise<void> {
    const id = String(this.nextId++);
    const encoded = encodeChunk(messages, `${this.inbox}.${id}`, this.writer.maxPayload());
    const chunk: Chunk = { encoded, id, lastPlace, done };
    const tail = this.queue[this.queue.length - 1];
    if (!this.broken && this.sentSeq !== null && (!tail || tail.verified))
      this.sendFast(chunk, tail);
    this.queue.push(chunk);
    if (!this.pumping) void this.pump();
    if (this.queue.length < this.options.window) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Sends a chunk on the fast path, unless an unconfirmed chunk before it (`previous`) went out on
   * another socket or the connection is down: then it stays unsent.
   */
  private sendFast(chunk: Chunk, previous: Chunk | undefined): void {
    const generation = this.writer.generation();
    if (previous && generation !== this.sentOn) return;
    const id = chunk.id;
    if (!this.writer.send(chunk.encoded, `${this.inbox}.${id}`)) return;
    this.sentOn = generation;
    const expected = (this.sentSeq as number) + sizeOf(chunk.encoded);
    this.sentSeq = expected;
    chunk.verified = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        resolve(false);
      }, this.options.ackTimeoutMs);
      this.acks.set(id, (ack) => {
        clearTimeout(timer);
        this.acks.delete(id);
        resolve(
          ack !== null &&
            ack.duplicate !== true &&
            ack.seq === expected &&
            ack.stream === this.options.stream,
        );
      });
    });
  }

  /** A PubAck on the inbox: `{ stream, seq, duplicate? }`, or an error / no-responders status. */
  private onAck(subject: string, data: Uint8Array): void {
    const settle = this.acks.get(subject.slice(this.inbox.length + 1));
    if (!settle) return; // timed out already
    let ack: PubAckBody | null = null;
    try {
      ack = data.length > 0 ? (JSON.parse(Buffer.from(data).toString('utf8')) as PubAckBody) : null;
    } catch {
      ack = null;
    }
    settle(ack);
  }

  /** Stops listening for PubAcks; chunks still waiting for one count as unconfirmed. */
  close(): void {
    this.subscription.unsubscribe();
    for (const settle of [...this.acks.values()]) settle(null);
  }

  /** At the head, nothing in flight: learns where the stream is, sends the unsent chunks fast. */
  private async sendFromHead(): Promise<void> {
    try {
      this.sentSeq ??= (await this.manager.streams.info(this.options.stream)).state.last_seq;
    } catch {
      return; // NATS unreachable: the slow path waits for it
    }
    let previous: Chunk | undefined;
    for (const chunk of this.queue) {
      if (!chunk.verified) this.sendFast(chunk, previous);
      if (!chunk.verified) return;
      previous = chunk;
    }
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const chunk = this.queue[0]!;
        try {
          if (!this.broken && !chunk.verified) await this.sendFromHead();
          const stored = !this.broken && chunk.verified ? await chunk.verified : false;
          if (stored) {
            this.counters.published += sizeOf(chunk.encoded);
          } else {
            // Everything after it goes the slow way too, until nothing is in flight.
            this.broken = true;
            this.sentSeq = null;
            await this.publishSlowly(chunk.encoded);
          }
        } catch (error) {
          // Stopping, or a message the server can never take: nothing after it is confirmed.
          for (const failed of this.queue.splice(0)) failed.done(error);
          break;
        }
        this.options.onProgress(chunk.lastPlace);
        this.queue.shift();
        chunk.done();
        if (this.queue.length === 0) this.broken = false;
        if (this.queue.length < this.options.window)
          for (const resolve of this.waiters.splice(0)) resolve();
      }
    } finally {
      this.pumping = false;
      for (const resolve of this.waiters.splice(0)) resolve();
    }
  }

  /**
   * One acknowledged publish per message, all of a burst at once, retried from the first
   * failure with backoff until JetStream took them (a dropped connection loses a suffix of a
   * burst, never a message in the middle, so the stream stays in commit order).
   */
  private async publishSlowly(chunk: EncodedChunk): Promise<void> {
    const size = sizeOf(chunk);
    let from = 0;
    let backoffMs = 100;
    while (from < size) {
      if (this.options.isStopping())
        throw new KoyoNatsError(
          'STOPPED',
          'The relay is stopping; this transaction is not acknowledged and comes again on the next start.',
        );
      const burst: Promise<PubAck>[] = [];
      for (let i = from; i < size; i++) {
        const message = messageOf(chunk, i);
        burst.push(
          this.js.publish(message.subject, message.data, {
            headers: message.headers,
            timeout: this.options.ackTimeoutMs,
          }),
        );
      }
      const results = await Promise.allSettled(burst);
      let failedAt = -1;
      for (const [index, result] of results.entries()) {
        if (result.status === 'rejected') {
          if (failedAt < 0) failedAt = index;
          this.counters.publishErrors += 1;
          continue;
        }
        if (failedAt >= 0) continue; // re-sent below, then counted
        if (result.value.duplicate) this.counters.duplicates += 1;
        else this.counters.published += 1;
      }
      if (failedAt < 0) break;
      from += failedAt;
      this.options.onWaiting(true);
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, this.options.maxBackoffMs);
    }
    this.options.onWaiting(false);
  }
}
