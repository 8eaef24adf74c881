import {
  type BackfillWindows,
  snapshotChange,
  type SnapshotChunk,
  type SnapshotRows,
} from './backfill-windows.js';
import type { OpenTxn } from './engine.js';
import { asError } from './errors.js';
import type { HandlerCache, HandlerRegistry } from './registry.js';
import type { Change, LogicalMessage, SnapshotChange } from './types.js';
import { isThenable } from './_thenable.js';

/** Snapshot rows delivered between two turns of the event loop (which reads the next chunk). */
const YIELD_EVERY = 1000;
/** Text of the snapshot rows decoded at a time, then handled (their objects take a few times more). */
const SLICE_BYTES = 256 * 1024;

/**
 * Rows of a slice: {@link SLICE_BYTES} of rows of the chunk's average size, 1 to
 * {@link YIELD_EVERY}.
 *
 * @internal
 */
export function sliceRows(rows: SnapshotRows): number {
  if (rows.byteLength === undefined || rows.length === 0) return YIELD_EVERY;
  const perRow = rows.byteLength / rows.length;
  return Math.max(1, Math.min(YIELD_EVERY, Math.floor(SLICE_BYTES / Math.max(1, perRow))));
}

/** Whether the event loop gets a turn after the rows `[start, end)`. */
function yieldsAfter(start: number, end: number): boolean {
  return Math.floor(end / YIELD_EVERY) > Math.floor(start / YIELD_EVERY);
}

/** A chunk's rows being delivered in the transaction of its high watermark. */
interface SnapshotDelivery {
  txn: OpenTxn;
  chunk: SnapshotChunk;
  rows: SnapshotRows;
  cache: HandlerCache;
  /** Change position of the first row. */
  first: number;
  /** Rows per slice. */
  slice: number;
}

/** What the snapshot delivery needs of the engine. */
export interface ChangeHandling {
  /** Hands one change to its handlers (see `Engine.change`). */
  change(
    txn: OpenTxn,
    change: Change,
    cache: HandlerCache,
    startedAt?: number,
  ): void | Promise<void>;
  /** The clock reading that ended the last change's handler time. */
  readonly lastHandlerEnd: number;
}

/**
 * Delivers backfill chunks as `'snapshot'` changes of their high watermark's transaction,
 * through the engine's path for streamed changes.
 */
export class SnapshotDeliverer {
  constructor(
    private readonly windows: BackfillWindows,
    private readonly registry: HandlerRegistry,
    private readonly engine: ChangeHandling,
  ) {}

  /**
   * A backfill watermark. At a chunk's high watermark, once the runner allows the chunk (its
   * rows read, the chunk before it recorded), its remaining rows are delivered as `'snapshot'`
   * changes of this transaction (which holds nothing else), through the same path as streamed
   * changes; the chunk settles once the transaction is acknowledged. The stream waits here
   * until then (so nothing after the high watermark is delivered before the chunk), for at most
   * a bound ({@link BackfillWindows.whenAllowed}): past it the chunk is read again and the stream
   * goes on.
   */
  watermark(txn: OpenTxn, message: LogicalMessage): void | Promise<void> {
    const chunk = this.windows.mark(message);
    if (chunk === null) return undefined;
    const first = message.position + 1;
    if (chunk.allowed) return this.deliverChunk(txn, chunk, first);
    return this.windows
      .whenAllowed(chunk)
      .then((allowed) => (allowed ? this.deliverChunk(txn, chunk, first) : undefined));
  }

  /** Delivers an allowed chunk's rows, the first at change position `first`. */
  private deliverChunk(txn: OpenTxn, chunk: SnapshotChunk, first: number): void | Promise<void> {
    const rows = this.windows.rowsToDeliver(chunk);
    if (rows === null) return undefined;
    if (chunk.unsure) {
      chunk.settle({ redo: true });
      return undefined;
    }
    const cache = this.registry.handlersFor(chunk.shape.schema, chunk.shape.table, chunk.cache);
    chunk.cache = cache;
    (txn.tracked.onDone ??= []).push(() => chunk.settle({ redo: false, delivered: rows.length }));
    return this.snapshotRows({ txn, chunk, rows, cache, first, slice: sliceRows(chunk.rows!) }, 0);
  }

  /**
   * Delivers a chunk's rows from `from` on, a slice at a time: the slice's rows are built into
   * changes, then handled (see {@link SnapshotDeliverer.handleSlice}). A row that cannot be decoded fails
   * the chunk (so its backfill), not the stream, once the rows before it are handled. A chunk
   * forgotten meanwhile (its backfill failed, or the dispatcher stops) is not delivered further:
   * its rows are recycled, and the backfill reads it again when it resumes.
   */
  private snapshotRows(delivery: SnapshotDelivery, from: number): void | Promise<void> {
    const { txn, chunk, rows } = delivery;
    for (let start = from; start < rows.length;) {
      if (!this.windows.isLive(chunk)) return undefined;
      const end = Math.min(rows.length, start + delivery.slice);
      const changes: SnapshotChange[] = [];
      let failure: Error | null = null;
      for (let i = start; i < end; i++) {
        try {
          changes.push(snapshotChange(chunk.shape, rows.row(i), txn.fields, delivery.first + i));
        } catch (error) {
          failure = asError(error);
          break;
        }
      }
      const handled = this.handleSlice(delivery, changes, 0);
      if (isThenable(handled))
        return handled.then(() => this.afterSlice(delivery, start, end, failure));
      if (failure !== null || yieldsAfter(start, end))
        return this.afterSlice(delivery, start, end, failure);
      start = end;
    }
    return undefined;
  }

  /**
   * After the slice of rows `[start, end)`: fails the chunk, or goes on with the next rows,
   * after a turn of the event loop every {@link YIELD_EVERY} rows (it reads the next chunk).
   */
  private afterSlice(
    delivery: SnapshotDelivery,
    start: number,
    end: number,
    failure: Error | null,
  ): void | Promise<void> {
    if (failure !== null) delivery.chunk.fail(failure);
    else if (end < delivery.rows.length) {
      if (!yieldsAfter(start, end)) return this.snapshotRows(delivery, end);
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
        this.snapshotRows(delivery, end),
      );
    }
    return undefined;
  }

  /**
   * Handles `changes` from `from` on, one after the other. Nothing runs between two of them, so
   * the clock reading that ends one's handler time starts the next one's: one reading per row
   * (a clock reading costs about a tenth of a row's whole delivery). After onTransaction
   * handlers ran (a full batch), the clock is read again.
   */
  private handleSlice(
    delivery: SnapshotDelivery,
    changes: readonly SnapshotChange[],
    from: number,
  ): void | Promise<void> {
    const { txn, cache } = delivery;
    const chained = this.registry.transactions.length === 0;
    let startedAt = performance.now();
    for (let i = from; i < changes.length; i++) {
      const result = this.engine.change(txn, changes[i]!, cache, chained ? startedAt : undefined);
      startedAt = this.engine.lastHandlerEnd;
      if (isThenable(result))
        return result.then(() =>
          // After an asynchronous handler, the chunk may have been forgotten (see snapshotRows).
          this.windows.isLive(delivery.chunk)
            ? this.handleSlice(delivery, changes, i + 1)
            : undefined,
        );
    }
    return undefined;
  }
}
