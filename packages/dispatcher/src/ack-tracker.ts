/** One transaction (or non-transactional message) on its way through the handlers. */
export interface TrackedTxn {
  /** End LSN to acknowledge once done; null for items that acknowledge nothing. */
  endLsn: bigint | null;
  /** Handler tasks not finished yet. */
  pending: number;
  /** True once the commit was received (no more tasks will be added). */
  committed: boolean;
  /** True when a reconnect abandoned it half-received: its work is redelivered. */
  dropped: boolean;
  /** Called once it and everything before it is done (drain markers). */
  onDone: (() => void)[] | null;
}

/**
 * Keeps transactions in commit order and acknowledges the low-water mark: the end LSN of the
 * last transaction that finished with every earlier transaction finished too.
 */
export class AckTracker {
  private queue: TrackedTxn[] = [];
  private head = 0;
  /** Highest LSN acknowledged. */
  acknowledged = 0n;
  /** Transactions completed. */
  completed = 0;

  constructor(private readonly acknowledge: (lsn: bigint) => void) {}

  /** Starts tracking the next transaction in commit order. */
  open(endLsn: bigint | null = null): TrackedTxn {
    const txn: TrackedTxn = { endLsn, pending: 0, committed: false, dropped: false, onDone: null };
    this.queue.push(txn);
    return txn;
  }

  /** The commit arrived: once its pending work is done it can be acknowledged. */
  commit(txn: TrackedTxn, endLsn: bigint | null): void {
    txn.endLsn = endLsn;
    txn.committed = true;
    if (txn.pending === 0) this.advance();
  }

  /** One task of the transaction finished. */
  done(txn: TrackedTxn): void {
    txn.pending--;
    if (txn.pending === 0 && txn.committed && !txn.dropped) this.advance();
  }

  /** Forgets a half-received transaction (after a reconnect the server sends it again). */
  drop(txn: TrackedTxn): void {
    txn.dropped = true;
    const index = this.queue.lastIndexOf(txn);
    if (index >= this.head) this.queue.splice(index, 1);
    this.advance();
  }

  /** Items tracked and not yet acknowledged. */
  get size(): number {
    return this.queue.length - this.head;
  }

  private advance(): void {
    let ack = this.acknowledged;
    while (this.head < this.queue.length) {
      const txn = this.queue[this.head]!;
      if (!txn.committed || txn.pending > 0) break;
      this.head++;
      if (txn.endLsn !== null) {
        this.completed++;
        if (txn.endLsn > ack) ack = txn.endLsn;
      }
      if (txn.onDone) {
        const callbacks = txn.onDone;
        // Released: acknowledged entries stay in the queue until it is compacted, and a
        // callback may hold a whole backfill chunk.
        txn.onDone = null;
        for (const fn of callbacks) fn();
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (ack !== this.acknowledged) {
      this.acknowledged = ack;
      this.acknowledge(ack);
    }
  }
}
