import type { AckTracker, TrackedTxn } from './ack-tracker.js';
import { BACKFILL_PREFIX, BackfillWindows } from './backfill-windows.js';
import type { RelationInfo, TxnFields } from './change.js';
import { Cancelled, type Deliverer } from './delivery.js';
import { asError, KoyoDispatcherError } from './errors.js';
import { SnapshotDeliverer } from './snapshot-delivery.js';
import { LaneScheduler } from './lane-scheduler.js';
import type { DispatcherMetrics } from './metrics.js';
import type { HandlerCache, HandlerRegistry } from './registry.js';
import { laneValue } from './_key-text.js';
import type { Change, LogicalMessage, TransactionBatch } from './types.js';
import { isThenable } from './_thenable.js';

/** Prefix of the logical messages `drain()` emits. */
export const DRAIN_PREFIX = 'koyo.drain';

/** A transaction being delivered. */
export interface OpenTxn {
  fields: TxnFields;
  tracked: TrackedTxn;
  /** Changes waiting to form the next onTransaction chunk. */
  batch: Change[];
  /** Index of the next chunk. */
  chunk: number;
}

/** Resolved engine options. */
export interface EngineOptions {
  concurrency: number;
  batchSize: number;
  maxPending: number;
}

/** Counters of handled work. */
export interface EngineCounters {
  changes: number;
  messages: number;
}

function laneOf(change: Change, key: Record<string, unknown> | null): string {
  let lane = `${change.schema}\u0000${change.table}`;
  if (key === null) return lane; // no key: the whole table is one lane
  for (const name in key) lane += `\u0000${laneValue(key[name])}`;
  return lane;
}

/**
 * Hands changes, chunks and messages to the handlers in the delivery order, and acknowledges
 * through the {@link AckTracker}. With `concurrency: 1` everything runs one after the other;
 * with more, changes run in parallel across (table, key) lanes.
 */
export class Engine {
  readonly counters: EngineCounters = { changes: 0, messages: 0 };
  private readonly scheduler: LaneScheduler | null;
  private readonly drainTokens = new Map<string, () => void>();
  /** Backfill chunks between their watermarks. */
  readonly windows = new BackfillWindows();
  /** Deferred chunks (`batch.defer()`) not done yet, and who waits for none to be left. */
  private deferred = 0;
  private deferredWaiters: (() => void)[] = [];
  /** Delivers backfill chunks at their high watermarks. */
  private readonly snapshots: SnapshotDeliverer;
  /** The clock reading (`performance.now()`) that ended the last change's handler time. */
  lastHandlerEnd = 0;

  constructor(
    private readonly registry: HandlerRegistry,
    private readonly deliverer: Deliverer,
    readonly tracker: AckTracker,
    private readonly options: EngineOptions,
    private readonly onFailure: (error: unknown) => void,
    private readonly metrics: DispatcherMetrics,
  ) {
    this.scheduler = options.concurrency > 1 ? new LaneScheduler(options.concurrency) : null;
    this.snapshots = new SnapshotDeliverer(this.windows, registry, this);
  }

  /** Changes received and not yet handled (concurrent mode), for stats. */
  get pending(): number {
    return this.scheduler ? this.scheduler.size : 0;
  }

  /** Registers a drain token; `resolve` runs once the marker's transaction is done. */
  expectDrain(token: string, resolve: () => void): void {
    this.drainTokens.set(token, resolve);
  }

  forgetDrain(token: string): void {
    this.drainTokens.delete(token);
  }

  begin(fields: TxnFields): OpenTxn {
    this.metrics.began(fields.commitTime);
    return { fields, tracked: this.tracker.open(), batch: [], chunk: 0 };
  }

  /**
   * Hands one change to its handlers. `startedAt`: when its handler time starts, if the caller
   * has just read the clock (a snapshot slice, see `SnapshotDeliverer`); otherwise now.
   */
  change(
    txn: OpenTxn,
    change: Change,
    cache: HandlerCache,
    startedAt?: number,
  ): void | Promise<void> {
    if (change.kind !== 'snapshot') {
      this.windows.sawTransaction(change.xid);
      if (this.windows.watching) this.windows.saw(change);
    }
    const handlers = cache[change.kind];
    if (this.scheduler === null) {
      if (handlers.length === 0) return this.afterChange(txn, change, -1);
      const begun = startedAt ?? performance.now();
      const result = this.deliverer.deliver(change, handlers);
      if (isThenable(result)) return result.then(() => this.afterChange(txn, change, begun));
      return this.afterChange(txn, change, begun);
    }
    if (handlers.length > 0) {
      const lanes = [laneOf(change, change.key)];
      if (change.kind === 'update' && change.old !== null && change.key !== null) {
        const oldKey: Record<string, unknown> = {};
        for (const name in change.key)
          oldKey[name] = name in change.old ? change.old[name] : change.key[name];
        const oldLane = laneOf(change, oldKey);
        if (oldLane !== lanes[0]) lanes.push(oldLane);
      }
      let started = -1;
      this.schedule(
        txn.tracked,
        lanes,
        () => {
          started = performance.now();
          return this.deliverer.deliver(change, handlers);
        },
        () => {
          this.counters.changes++;
          this.metrics.handled(change, started);
        },
      );
    } else {
      this.counters.changes++;
      this.metrics.handled(change, -1);
    }
    const chunk = this.addToBatch(txn, change);
    if (isThenable(chunk)) return chunk.then(() => this.backpressure());
    return this.backpressure();
  }

  /** Truncates: every earlier change finishes first, later ones wait for it. */
  truncate(txn: OpenTxn, changes: { change: Change; cache: HandlerCache }[]): void | Promise<void> {
    if (this.windows.watching) for (const { change } of changes) this.windows.sawTruncate(change);
    if (this.scheduler === null) return this.truncateNow(txn, changes, 0);
    const scheduler = this.scheduler;
    return scheduler.whenIdle().then(() => {
      // Halted (stop() or a failure) with work left: nothing more may run, and this transaction
      // stays unacknowledged.
      if (scheduler.halted) throw new Cancelled();
      return this.truncateNow(txn, changes, 0);
    });
  }

  private truncateNow(
    txn: OpenTxn,
    changes: { change: Change; cache: HandlerCache }[],
    from: number,
  ): void | Promise<void> {
    for (let i = from; i < changes.length; i++) {
      const { change, cache } = changes[i]!;
      const started = cache.truncate.length > 0 ? performance.now() : -1;
      const result = started >= 0 ? this.deliverer.deliver(change, cache.truncate) : undefined;
      if (isThenable(result)) {
        return result.then(() => {
          const after = this.afterChange(txn, change, started);
          return isThenable(after)
            ? after.then(() => this.truncateNow(txn, changes, i + 1))
            : this.truncateNow(txn, changes, i + 1);
        });
      }
      const after = this.afterChange(txn, change, started);
      if (isThenable(after)) return after.then(() => this.truncateNow(txn, changes, i + 1));
    }
    return undefined;
  }

  message(txn: OpenTxn | null, message: LogicalMessage): void | Promise<void> {
    if (message.prefix === DRAIN_PREFIX) {
      const token = message.text;
      const resolve = this.drainTokens.get(token);
      // The token stays registered until its transaction is done: if a reconnect drops this
      // transaction half-received, the redelivered copy carries the marker again.
      if (resolve && txn) {
        (txn.tracked.onDone ??= []).push(() => {
          if (this.drainTokens.get(token) !== resolve) return;
          this.drainTokens.delete(token);
          resolve();
        });
      }
      return undefined;
    }
    if (message.prefix === BACKFILL_PREFIX)
      return txn ? this.snapshots.watermark(txn, message) : undefined;
    const handlers = this.registry.messageHandlersFor(message.prefix);
    if (!handlers) return undefined;
    if (this.scheduler === null) {
      const result = this.deliverer.deliver(message, handlers);
      if (isThenable(result)) return result.then(() => void this.counters.messages++);
      this.counters.messages++;
      return undefined;
    }
    const tracked = txn ? txn.tracked : this.tracker.open(null);
    this.schedule(
      tracked,
      [`\u0001message\u0000${message.prefix}`],
      () => this.deliverer.deliver(message, handlers),
      () => this.counters.messages++,
    );
    if (!txn) this.tracker.commit(tracked, null);
    return this.backpressure();
  }

  /** Whether {@link Engine.commit} calls no handler (no transaction chunk left to deliver). */
  commitsQuietly(txn: OpenTxn): boolean {
    return txn.batch.length === 0 || this.registry.transactions.length === 0;
  }

  commit(txn: OpenTxn, endLsn: bigint): void | Promise<void> {
    const final = txn.batch.length > 0 ? this.emitChunk(txn, txn.batch, true) : undefined;
    txn.batch = [];
    if (isThenable(final)) return final.then(() => this.tracker.commit(txn.tracked, endLsn));
    this.tracker.commit(txn.tracked, endLsn);
    return undefined;
  }

  /** A reconnect abandoned this half-received transaction: its queued work is skipped. */
  drop(txn: OpenTxn): void {
    txn.batch = [];
    this.tracker.drop(txn.tracked);
  }

  /** No new handler call starts (concurrent mode); running ones finish. */
  halt(): void {
    this.scheduler?.halt();
  }

  /** Resolves once no handler task is running (concurrent mode) and every deferred chunk is done. */
  async settled(): Promise<void> {
    if (this.scheduler) await this.scheduler.whenSettled();
    while (this.deferred > 0)
      await new Promise<void>((resolve) => this.deferredWaiters.push(resolve));
  }

  /** A chunk finished later (`batch.defer()`): its transaction waits for `done`. */
  private defer(tracked: TrackedTxn, commitLsn: string): (error?: unknown) => void {
    tracked.pending++;
    this.deferred++;
    let finished = false;
    return (error?: unknown) => {
      if (finished) return;
      finished = true;
      this.deferred--;
      if (error === undefined) this.tracker.done(tracked);
      else
        this.onFailure(
          new KoyoDispatcherError(
            'HANDLER_FAILED',
            `A deferred transaction chunk (commitLsn ${commitLsn}) failed: ${asError(error).message}. The dispatcher stopped without acknowledging it, so it is delivered again after a restart.`,
            { cause: error },
          ),
        );
      if (this.deferred === 0) for (const resolve of this.deferredWaiters.splice(0)) resolve();
    };
  }

  private afterChange(txn: OpenTxn, change: Change, started: number): void | Promise<void> {
    this.counters.changes++;
    const ended = this.metrics.handled(change, started);
    if (ended >= 0) this.lastHandlerEnd = ended;
    return this.addToBatch(txn, change);
  }

  private addToBatch(txn: OpenTxn, change: Change): void | Promise<void> {
    if (this.registry.transactions.length === 0) return undefined;
    if (txn.batch.length < this.options.batchSize) {
      txn.batch.push(change);
      return undefined;
    }
    const full = txn.batch;
    txn.batch = [change];
    return this.emitChunk(txn, full, false);
  }

  private emitChunk(txn: OpenTxn, changes: Change[], final: boolean): void | Promise<void> {
    const handlers = this.registry.transactions;
    if (handlers.length === 0) return undefined;
    const chunk = txn.chunk++;
    const batch: TransactionBatch = {
      kind: 'transaction',
      xid: txn.fields.xid,
      commitLsn: txn.fields.commitLsn,
      commitTime: txn.fields.commitTime,
      changes,
      chunk,
      first: chunk === 0,
      final,
      defer: () => this.defer(txn.tracked, txn.fields.commitLsn),
    };
    if (this.scheduler === null) return this.deliverer.deliver(batch, handlers);
    this.schedule(
      txn.tracked,
      ['\u0001transaction'],
      () => this.deliverer.deliver(batch, handlers),
      null,
    );
    return this.backpressure();
  }

  private schedule(
    tracked: TrackedTxn,
    lanes: string[],
    run: () => void | Promise<void>,
    onDone: (() => void) | null,
  ): void {
    tracked.pending++;
    this.scheduler!.add({
      lanes,
      waiting: 0,
      run: () => (tracked.dropped ? undefined : run()),
      finished: (failed, error) => {
        if (!failed) {
          if (!tracked.dropped && onDone) onDone();
          this.tracker.done(tracked);
        } else if (!(error instanceof Cancelled)) {
          // Halt first, synchronously: the scheduler would otherwise start the next task of
          // this lane (a later change of the same row) before the dispatcher stops.
          this.scheduler!.halt();
          this.onFailure(error);
        }
      },
    });
  }

  private backpressure(): void | Promise<void> {
    const scheduler = this.scheduler!;
    if (scheduler.size < this.options.maxPending) return undefined;
    return scheduler.whenBelow(this.options.maxPending);
  }
}

/** Handler lists for a relation, cached on its info. */
export function cacheFor(registry: HandlerRegistry, info: RelationInfo): HandlerCache {
  const cache = registry.handlersFor(info.schema, info.table, info.cache);
  info.cache = cache;
  return cache;
}
