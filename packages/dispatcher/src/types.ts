import type { Change } from './change-types.js';

export type * from './change-types.js';

/**
 * A chunk of one committed transaction, for {@link Dispatcher.onTransaction}. A transaction with
 * at most `batchSize` changes arrives as one chunk (`first` and `final` both true); a larger one
 * arrives as consecutive chunks of `batchSize` changes, the last with `final: true`. Chunks of a
 * transaction are delivered in order and never overlap with another transaction's chunks.
 * Transactions with no (dispatched) changes produce no call.
 */
export interface TransactionBatch {
  /** Always `'transaction'` (so policies can tell batches from changes). */
  kind: 'transaction';
  xid: number;
  /** Commit LSN, PostgreSQL form. */
  commitLsn: string;
  /** Commit time, ISO 8601 with microseconds. */
  commitTime: string;
  /** The changes of this chunk, in WAL order. */
  changes: Change[];
  /** 0 for the first chunk of the transaction, then 1, 2, ... */
  chunk: number;
  /** True on the first chunk of the transaction. */
  first: boolean;
  /** True on the last chunk: once it is handled, the whole transaction is. */
  final: boolean;
  /**
   * Finishes this chunk later: the handler may return (and the next chunk be delivered) while
   * its work is still running; the transaction is acknowledged only once the returned `done` was
   * called for every deferred chunk of it and of every earlier transaction. `done(error)` stops
   * the dispatcher as a handler that failed on every attempt would (no retry, nothing after it is
   * acknowledged). For pipelining, e.g. publishes waiting for a broker's acknowledgement; bound
   * the chunks in flight yourself (return a promise while too many are). `stop()` waits for every
   * deferred chunk to be done.
   *
   * @example
   * dispatcher.onTransaction((batch) => {
   *   const done = batch.defer();
   *   sink.write(batch.changes).then(() => done(), done);
   * });
   */
  defer(): (error?: unknown) => void;
}

/**
 * A `pg_logical_emit_message` payload, for {@link Dispatcher.onMessage}.
 * Transactional messages carry their transaction's `commitLsn`/`position` (the idempotency key);
 * non-transactional ones are delivered as soon as they are decoded, with `commitLsn: null` (use
 * `lsn` to de-duplicate them).
 */
export interface LogicalMessage {
  /** Always `'message'`. */
  kind: 'message';
  prefix: string;
  /** The raw payload. */
  content: Buffer;
  /** The payload decoded as UTF-8 (convenient for JSON outbox payloads). */
  text: string;
  transactional: boolean;
  /** The message's own WAL position, PostgreSQL form. */
  lsn: string;
  /** Commit LSN of its transaction; `null` for non-transactional messages. */
  commitLsn: string | null;
  /** Index in its transaction (shared with changes); `0` for non-transactional messages. */
  position: number;
  /** Transaction id; `null` for non-transactional messages. */
  xid: number | null;
  /** Commit time (ISO, µs); `null` for non-transactional messages. */
  commitTime: string | null;
}

/** A handler's result: handlers may be sync or async. */
export type HandlerResult = void | Promise<void>;

/** A handler of transaction chunks (see {@link TransactionBatch}). */
export type TransactionHandler = (batch: TransactionBatch) => HandlerResult;

/** A handler of logical messages. */
export type MessageHandler = (message: LogicalMessage) => HandlerResult;

/** Whatever a failing handler was given: a change, a transaction chunk or a logical message. */
export type DeliveryItem = Change | TransactionBatch | LogicalMessage;

/** What to do with an item whose handler failed on every attempt. */
export type ErrorDecision = 'skip' | 'stop';

/** Retry policy for failing handlers. */
export interface RetryOptions {
  /** Total tries per handler call, including the first. Default 3. `1` = no retry. */
  attempts?: number;
  /** Wait before the first retry, doubled on each further retry. Default 100 ms. */
  backoffMs?: number;
  /** Upper bound of the wait. Default 5000 ms. */
  maxBackoffMs?: number;
}

/** A dispatcher's lifecycle state. */
export type DispatcherState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** A snapshot of a dispatcher's progress, from {@link Dispatcher.stats}. */
export interface DispatcherStats {
  state: DispatcherState;
  /** Highest WAL position received from the server (PostgreSQL form). */
  receivedLsn: string;
  /** Highest position confirmed to the server (everything before it is handled). */
  acknowledgedLsn: string;
  /** `receivedLsn - acknowledgedLsn` in bytes (0 when caught up). */
  lagBytes: number;
  /** Changes handled since start. */
  changes: number;
  /** Changes handled per second over the last ~10 seconds. */
  changesPerSecond: number;
  /** Transactions fully handled (and acknowledged) since start. */
  transactions: number;
  /** Logical messages handled since start. */
  messages: number;
  /** Handler failures (each failed attempt counts). */
  handlerErrors: number;
  /** Retries performed. */
  retries: number;
  /** Items given up with `onError` returning 'skip' and no dead-letter handler. */
  skipped: number;
  /** Items parked with the `deadLetter` handler. */
  deadLettered: number;
  /** Handler calls running right now. */
  inFlight: number;
  /** Changes received but not yet handled (queued, running or waiting for retry). */
  pending: number;
  /** The error that stopped the dispatcher, when `state` is 'failed'. */
  error: string | null;
  /** Backfills of this process, one entry per table (empty when none ran). */
  backfill: BackfillTableStats[];
  /** Changes handled since start per table (`schema.table`), in the order first seen. */
  tables: { table: string; changes: number }[];
  /**
   * Median time (ms) the handlers of one change took over the last ~10 seconds, as the upper
   * bound of a power-of-two bucket (0.01 ms, 0.02 ms, ...); `null` when no handler ran.
   */
  handlerP50Ms: number | null;
  /** 99th percentile of the same, `null` when no handler ran. */
  handlerP99Ms: number | null;
  /** The latest failed handler attempt (`label: message`, ISO time), even if a retry succeeded. */
  lastHandlerError: { message: string; at: string } | null;
  /** Commit time (ISO 8601, server clock) of the latest transaction the dispatcher started handling. */
  lastCommitTime: string | null;
  /** Times the replication stream reconnected since start. */
  reconnects: number;
  /**
   * The slot as the server last reported it (read every `slotCheckIntervalMs`): the WAL it
   * retains, `wal_status` and `safe_wal_size`. `null` before the first reading.
   */
  slot: SlotWalStats | null;
}

/** The slot's WAL retention, in {@link DispatcherStats.slot}. */
export interface SlotWalStats {
  /** Bytes of WAL the server keeps for this slot (its position minus the slot's `restart_lsn`). */
  retainedWalBytes: number | null;
  /**
   * `reserved` or `extended` (fine), `unreserved` (past `max_slot_wal_keep_size`: invalidated at
   * the next checkpoint unless it catches up), `lost` (invalidated).
   */
  walStatus: string | null;
  /** Bytes of WAL that can still be written before the slot is at risk; `null` when unlimited. */
  safeWalSize: number | null;
  /** `max_slot_wal_keep_size` in bytes; `null` when unlimited. */
  maxSlotWalKeepSize: number | null;
  /** When this was read (ISO 8601, local clock). */
  checkedAt: string;
}

/** Progress of one table's backfill, in {@link DispatcherStats.backfill}. */
export interface BackfillTableStats {
  /** `schema.table`. */
  table: string;
  /** Snapshot rows delivered (handled) so far, including those of earlier runs it resumed. */
  rows: number;
  /** Estimated rows of the table (`pg_class.reltuples`), `null` when never analyzed. */
  estimatedTotal: number | null;
  /** Rows delivered per second since this table's backfill started in this process. */
  rowsPerSecond: number;
  /** `'running'`, `'done'` or `'failed'`. */
  state: 'running' | 'done' | 'failed';
}

/** Options of `dispatcher.backfill()`. */
export interface BackfillOptions {
  /**
   * Rows read per chunk (one short transaction each). Default: sized by bytes, about 2 MiB of
   * row data per chunk (1,000 rows first, then 100 to 100,000 by the average row size); a
   * resumed backfill goes on as it started.
   */
  chunkSize?: number;
  /** Aborting stops the backfill after the chunk in flight; progress is kept for a resume. */
  signal?: AbortSignal;
}

/** What `dispatcher.backfill()` resolves with: one entry per table, in order. */
export interface BackfillResult {
  tables: { table: string; rows: number; chunks: number; ms: number }[];
}
