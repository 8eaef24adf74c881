/** An item that knows how many bytes it counts for in a {@link ByteBoundedQueue}. */
export interface Sized {
  /** Bytes counted for this item (0 for items that do not count, like a connection start). */
  readonly size: number;
}

/** What a {@link ByteBoundedQueue} does when it fills up and when it has room again. */
export interface Backpressure {
  /** The queue reached its limit: pause the producer. Returns false when there is nothing to pause. */
  pause(): boolean;
  /** The queue is down to half its limit after a pause: resume the producer. */
  resume(): void;
}

/**
 * A FIFO queue that counts bytes and applies backpressure: it pauses the producer once it holds
 * `limit` bytes or more, and resumes it when it is down to half of that. A paused queue still
 * accepts items (what is already in flight is kept).
 */
export class ByteBoundedQueue<T extends Sized> {
  readonly #limit: number;
  readonly #backpressure: Backpressure;
  #items: (T | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #paused = false;

  constructor(limit: number, backpressure: Backpressure) {
    this.#limit = limit;
    this.#backpressure = backpressure;
  }

  /** Bytes held (the sum of the items' sizes). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Items held. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Whether the producer is paused by this queue. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Appends an item; pauses the producer when the queue is full. */
  push(item: T): void {
    this.#items.push(item);
    this.#bytes += item.size;
    if (!this.#paused && this.#bytes >= this.#limit && this.#backpressure.pause()) {
      this.#paused = true;
    }
  }

  /** Takes the oldest item (undefined when empty); resumes the producer once half empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#items.length) {
      // Compact now and then, so a long-lived queue does not keep a long array of holes.
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (item !== undefined && item.size > 0) {
      this.#bytes -= item.size;
      if (this.#paused && this.#bytes <= this.#limit / 2) {
        this.#paused = false;
        this.#backpressure.resume();
      }
    }
    return item;
  }

  /** Drops every item (the pause state is left as it is). */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  /** Forgets a pause without resuming (the paused producer is gone). */
  forgetPause(): void {
    this.#paused = false;
  }
}
