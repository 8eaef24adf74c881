import { keyText } from './_key-text.js';
import type { HandlerCache } from './registry.js';
import type { Change, LogicalMessage, SnapshotChange } from './types.js';

/** How many of the stream's latest transactions a chunk's snapshot is checked against. */
const RECENT_TRANSACTIONS = 4096;

/**
 * How long the stream waits at a chunk's high watermark for the chunk before it to be recorded
 * (normally a round trip). Past it the chunk is read again instead, so a handler that holds
 * acknowledgements until more changes arrive (`batch.defer()`), or a slow progress write, never
 * holds the stream.
 */
export const ALLOW_WAIT_MS = 200;

/** Prefix of the backfill's watermark messages (`pg_logical_emit_message`). */
export const BACKFILL_PREFIX = 'koyo.backfill';

/** How a table's rows are identified, for a chunk. */
export interface ChunkShape {
  schema: string;
  table: string;
  /** Columns the chunks are ordered and cut by (primary key or usable unique key). */
  keyColumns: readonly string[];
  /** Columns of `Change.key`, as the stream builds it for this table; null when none. */
  changeKey: readonly string[] | null;
}

/** A chunk's rows, each decoded when asked for (a new object per call). */
export interface SnapshotRows {
  readonly length: number;
  row(index: number): Record<string, unknown>;
  /** Bytes of the rows' text, when known. */
  readonly byteLength?: number;
  /** Row `index`'s key columns alone, if the rows can decode them cheaper than the whole row. */
  key?(index: number): Record<string, unknown>;
  /** The chunk is finished (delivered, to be read again, or failed): no row is read after. */
  recycle?(): void;
}

/** How a chunk ended: delivered (how many rows), or to be read again. */
export type ChunkOutcome = { redo: false; delivered: number } | { redo: true };

/** One chunk between its low and its high watermark. */
export interface SnapshotChunk {
  id: string;
  shape: ChunkShape;
  /** The rows read between the watermarks; null until read. */
  rows: SnapshotRows | null;
  /** Keys the stream changed since the low watermark; null until the low watermark is seen. */
  changed: Set<string> | null;
  /** A truncate of the table after the low watermark: every row read is stale or streamed. */
  truncated: boolean;
  /** A change whose key could not be read: the chunk is read again rather than guessed. */
  unsure: boolean;
  /** Handler lists, cached by the registry. */
  cache: HandlerCache | null;
  /** Transactions in progress for the read's snapshot (32-bit xids); null when unknown. */
  inProgress: ReadonlySet<number> | null;
  /** Transactions the stream delivered before the low watermark (the latest ones); null until then. */
  before: ReadonlySet<number> | null;
  /**
   * Whether the runner let the chunk be delivered (its rows are in and the chunk before it is
   * recorded as done). Its high watermark may come first: the stream then waits for `allowed`
   * (see {@link BackfillWindows.whenAllowed}).
   */
  allowed: boolean;
  /** Settles when the chunk is allowed or forgotten (never rejects). */
  ready: Promise<void>;
  /** Settles `ready`. */
  release: () => void;
  settle: (outcome: ChunkOutcome) => void;
  fail: (error: Error) => void;
}

/** The watermark payload: `<chunk id>:low` or `<chunk id>:high`. */
export function watermark(id: string, mark: 'low' | 'high'): string {
  return `${id}:${mark}`;
}

/**
 * The stream's side of the DBLog algorithm: opens a chunk's window at its low watermark,
 * records every key the stream changes in the window, and at the high watermark hands back
 * the chunk's rows minus those keys (the stream delivers their newer state itself).
 */
export class BackfillWindows {
  private readonly chunks = new Map<string, SnapshotChunk>();
  /** Chunks whose window is open, by `schema\0table`. */
  private readonly open = new Map<string, SnapshotChunk[]>();
  /** The xids of the latest transactions the stream delivered changes of (a ring). */
  private readonly recent: number[] = [];
  private next = 0;
  private lastXid = -1;

  /** True while some window is open: only then are changes looked at. */
  get watching(): boolean {
    return this.open.size > 0;
  }

  /** Registers a chunk before its low watermark is written; the promise settles at its end. */
  add(id: string, shape: ChunkShape): Promise<ChunkOutcome> {
    let release!: () => void;
    const ready = new Promise<void>((resolve) => (release = resolve));
    return new Promise<ChunkOutcome>((resolve, reject) => {
      this.chunks.set(id, {
        id,
        shape,
        rows: null,
        changed: null,
        truncated: false,
        unsure: false,
        cache: null,
        inProgress: null,
        before: null,
        allowed: false,
        ready,
        release,
        settle: (outcome) => {
          this.forget(id);
          resolve(outcome);
        },
        fail: (error) => {
          this.forget(id);
          reject(error);
        },
      });
    });
  }

  /**
   * Resolves true once `chunk` is allowed, or false if it is forgotten first or `waitMs` pass:
   * then the chunk is settled to be read again (its window is closed; a new read brings a new
   * one), and the stream goes on without it.
   */
  whenAllowed(chunk: SnapshotChunk, waitMs = ALLOW_WAIT_MS): Promise<boolean> {
    const live = (): boolean => this.isLive(chunk);
    if (chunk.allowed || !live()) return Promise.resolve(chunk.allowed && live());
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        if (!chunk.allowed && live()) chunk.settle({ redo: true });
        resolve(chunk.allowed && live());
      }, waitMs);
      void chunk.ready.then(() => {
        clearTimeout(timer);
        resolve(chunk.allowed && live());
      });
    });
  }

  /** The chunk may be delivered once the stream reaches its high watermark (or now, if it has). */
  allow(id: string): void {
    const chunk = this.chunks.get(id);
    if (!chunk) return;
    chunk.allowed = true;
    chunk.release();
  }

  /** The rows read between the watermarks (before the high watermark is written). */
  fill(id: string, rows: SnapshotRows, inProgress?: ReadonlySet<number>): void {
    const chunk = this.chunks.get(id);
    if (!chunk) return;
    chunk.rows = rows;
    chunk.inProgress = inProgress ?? null;
  }

  /**
   * A streamed change's transaction (every change, window or not). The latest transactions are
   * kept: one that the stream delivered before a low watermark but that the chunk's snapshot,
   * taken after that watermark committed, still saw in progress (commit order in the WAL is not
   * the order in which commits become visible) makes the chunk older than the stream.
   */
  sawTransaction(xid: number): void {
    if (xid === this.lastXid) return;
    this.lastXid = xid;
    this.recent[this.next] = xid;
    this.next = (this.next + 1) % RECENT_TRANSACTIONS;
  }

  /** Forgets a chunk that will get no high watermark (nothing left to read). */
  cancel(id: string): void {
    this.chunks.get(id)?.settle({ redo: false, delivered: 0 });
  }

  /** Fails every chunk (the dispatcher stops). */
  failAll(error: Error): void {
    for (const chunk of [...this.chunks.values()]) chunk.fail(error);
  }

  /** A streamed row change, in commit order: its keys are recorded by open windows of its table. */
  saw(change: Change): void {
    const chunks = this.open.get(`${change.schema}\u0000${change.table}`);
    if (!chunks) return;
    for (const chunk of chunks) {
      const columns = chunk.shape.keyColumns;
      const changed = chunk.changed!;
      if (change.new !== null) {
        const key = keyText(change.new, columns);
        if (key === null) chunk.unsure = true;
        else changed.add(key);
      }
      if (change.kind === 'delete' || (change.kind === 'update' && change.old !== null)) {
        // The old key: from `old` (key change, FULL identity, delete), else the new row's.
        const old = { ...change.key, ...change.new, ...change.old };
        const key = keyText(old, columns);
        if (key === null) chunk.unsure = true;
        else changed.add(key);
      }
    }
  }

  /** A streamed truncate of a table. */
  sawTruncate(change: Change): void {
    const chunks = this.open.get(`${change.schema}\u0000${change.table}`);
    if (chunks) for (const chunk of chunks) chunk.truncated = true;
  }

  /**
   * A watermark message. For a low watermark, opens the window and returns null; for a high
   * one, closes it and returns the chunk (null for another run's): once the chunk is `allowed`,
   * {@link rowsToDeliver} gives its rows.
   */
  mark(message: LogicalMessage): SnapshotChunk | null {
    const text = message.text;
    const at = text.lastIndexOf(':');
    const chunk = this.chunks.get(text.slice(0, at));
    if (!chunk) return null; // another run's (before a restart): nothing to do
    const name = `${chunk.shape.schema}\u0000${chunk.shape.table}`;
    if (text.slice(at + 1) === 'low') {
      // Kept on a redelivery after a reconnect: a larger set only drops more rows the stream brings.
      chunk.changed ??= new Set();
      chunk.before ??= new Set(this.recent);
      const list = this.open.get(name) ?? [];
      if (!list.includes(chunk)) list.push(chunk);
      this.open.set(name, list);
      return null;
    }
    this.close(chunk);
    if (chunk.changed === null) {
      chunk.fail(new Error(`backfill chunk ${chunk.id}: high watermark without its low watermark`));
      return null;
    }
    return chunk;
  }

  /**
   * The rows of an allowed chunk whose high watermark the stream reached, minus the keys the
   * stream changed in its window; null when the chunk was forgotten meanwhile or failed here.
   */
  rowsToDeliver(chunk: SnapshotChunk): SnapshotRows | null {
    if (!this.isLive(chunk)) return null;
    if (chunk.rows === null) {
      chunk.fail(new Error(`backfill chunk ${chunk.id}: allowed without its rows`));
      return null;
    }
    if (chunk.truncated) return NO_ROWS;
    if (chunk.inProgress !== null && chunk.before !== null)
      for (const xid of chunk.inProgress) if (chunk.before.has(xid)) chunk.unsure = true;
    try {
      return unchanged(chunk.rows, chunk.changed!, chunk.shape.keyColumns);
    } catch (error) {
      chunk.fail(error as Error); // a row that cannot be decoded: the backfill fails, not the stream
      return null;
    }
  }

  /**
   * Whether the chunk is still going (not settled, failed or forgotten). A delivery stops at the
   * first slice it finds the chunk gone: its rows are recycled, and the backfill that failed or
   * stopped reads the chunk again when it resumes.
   */
  isLive(chunk: SnapshotChunk): boolean {
    return this.chunks.get(chunk.id) === chunk;
  }

  private close(chunk: SnapshotChunk): void {
    const name = `${chunk.shape.schema}\u0000${chunk.shape.table}`;
    const list = this.open.get(name);
    if (!list) return;
    const left = list.filter((c) => c !== chunk);
    if (left.length > 0) this.open.set(name, left);
    else this.open.delete(name);
  }

  private forget(id: string): void {
    const chunk = this.chunks.get(id);
    if (!chunk) return;
    this.chunks.delete(id);
    this.close(chunk);
    chunk.rows?.recycle?.();
    chunk.release(); // a stream waiting for the chunk goes on without it
  }
}

const NO_ROWS: SnapshotRows = { length: 0, row: () => ({}) };

/**
 * The rows whose key the stream did not change in the window. Each row's key columns are
 * decoded here, and the whole row when delivered (only while the table is written to during the
 * window).
 */
function unchanged(
  rows: SnapshotRows,
  changed: ReadonlySet<string>,
  columns: readonly string[],
): SnapshotRows {
  if (changed.size === 0) return rows;
  const kept: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const key = rows.key ? rows.key(i) : rows.row(i);
    if (!changed.has(keyText(key, columns)!)) kept.push(i);
  }
  if (kept.length === rows.length) return rows;
  return { length: kept.length, row: (index) => rows.row(kept[index]!) };
}

/** Builds a chunk row's `'snapshot'` change, in its high watermark's transaction. */
export function snapshotChange(
  shape: ChunkShape,
  row: Record<string, unknown>,
  txn: { xid: number; commitLsn: string; commitTime: string },
  position: number,
): SnapshotChange {
  const keyColumns = shape.changeKey;
  let key: Record<string, unknown> | null = null;
  let id: unknown = null;
  if (keyColumns !== null) {
    key = {};
    for (const name of keyColumns) key[name] = row[name];
    if (keyColumns.length === 1) id = key[keyColumns[0]!] ?? null;
  }
  return {
    kind: 'snapshot',
    schema: shape.schema,
    table: shape.table,
    key,
    id,
    new: row,
    old: null,
    unchanged: [],
    commitLsn: txn.commitLsn,
    position,
    xid: txn.xid,
    commitTime: txn.commitTime,
  };
}
