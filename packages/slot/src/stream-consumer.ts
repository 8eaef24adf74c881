import { KoyoSlotError } from './errors.js';
import type { ReplicationEvent, StreamItem } from './stream-events.js';

/** What the consumer side needs from the stream it reads. */
export interface ConsumerSource {
  /** The next buffered item, or `undefined` when the buffer is empty. */
  shift(): StreamItem | undefined;
  /** Decodes one item; `undefined` for items that yield no event. Throws a {@link KoyoSlotError}. */
  toEvent(item: StreamItem): ReplicationEvent | undefined;
  /** An item failed to decode: the stream fails with `error` and drops what it buffered. */
  onDecodeError(error: KoyoSlotError): void;
  /** Stops the stream (after a decode failure, or when the loop is left early). */
  stop(): Promise<void>;
}

/**
 * @internal the consumer side of a replication stream: one async iterator that takes buffered
 * items, decodes them into events and waits for more, ends when the stream is closed, and throws
 * the stream's fatal error once everything before it was consumed. It tracks the highest
 * position it has handed out (`delivered`), which bounds what may be acknowledged.
 */
export class StreamConsumer {
  readonly #source: ConsumerSource;
  #wake: (() => void) | undefined;
  #iterating = false;
  #fatal: KoyoSlotError | undefined;
  #closed = false;
  #finished = false;
  #delivered = 0n;

  constructor(source: ConsumerSource) {
    this.#source = source;
  }

  /** The highest LSN of a message event handed to the consumer. */
  get delivered(): bigint {
    return this.#delivered;
  }

  /**
   * Records the stream's fatal error, thrown by the iterator once the buffer is drained. Returns
   * `false` (and records nothing) when the stream has already failed or closed.
   */
  fail(error: KoyoSlotError): boolean {
    if (this.#fatal || this.#closed) return false;
    this.#fatal = error;
    return true;
  }

  /** The stream has ended: the iterator finishes once the buffer is drained. */
  close(): void {
    this.#closed = true;
    this.wake();
  }

  /** Lets a waiting `next()` look at the buffer again. */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The one iterator of the stream; a second call throws `STREAM_CLOSED`. */
  iterator(): AsyncIterator<ReplicationEvent, undefined> {
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
        await this.#source.stop();
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<ReplicationEvent, undefined>> {
    for (;;) {
      if (this.#finished || (this.#closed && !this.#fatal)) return { done: true, value: undefined };
      const item = this.#source.shift();
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
      let event: ReplicationEvent | undefined;
      try {
        event = this.#source.toEvent(item);
      } catch (error) {
        const failure = error as KoyoSlotError;
        this.#source.onDecodeError(failure);
        this.#finished = true;
        void this.#source.stop();
        throw failure;
      }
      if (event === undefined) continue;
      if (event.kind === 'message' && event.lsn > this.#delivered) this.#delivered = event.lsn;
      return { done: false, value: event };
    }
  }
}
