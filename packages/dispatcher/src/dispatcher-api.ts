import type { OriginPool } from './origin-pool.js';
import type {
  BackfillOptions,
  BackfillResult,
  ChangeHandler,
  DispatcherStats,
  MessageHandler,
  TableHandlers,
  TransactionHandler,
} from './types.js';

/**
 * Calls your code for every committed row change of a publication, in commit order, and
 * acknowledges a transaction to PostgreSQL only once every handler of it (and of every earlier
 * transaction) has finished. See {@link createDispatcher}.
 */
export interface Dispatcher {
  /**
   * Handles every change of every dispatched table (the gem's `koyo_handle_all_replication`).
   * Returns a function that unsubscribes.
   */
  onChange(handler: ChangeHandler): () => void;
  /**
   * Handles the changes of one table: `'users'` (any schema) or `'public.users'`; a function for
   * every kind or an object `{ insert, update, delete, truncate }`. Returns an unsubscribe function.
   */
  onTable<Row = Record<string, unknown>>(
    table: string,
    handler: ChangeHandler<Row> | TableHandlers<Row>,
  ): () => void;
  /** Handles whole committed transactions in bounded chunks (see `TransactionBatch`). */
  onTransaction(handler: TransactionHandler): () => void;
  /** Handles `pg_logical_emit_message(transactional, prefix, content)` payloads with this prefix. */
  onMessage(prefix: string, handler: MessageHandler): () => void;
  /**
   * Creates the slot/publication when asked, checks them, and starts streaming. Resolves once
   * set up; later failures reject {@link Dispatcher.closed}.
   */
  start(): Promise<void>;
  /**
   * Stops gracefully: no new handler call starts, running ones finish, everything finished is
   * acknowledged, the stream closes. Unfinished work is redelivered on the next start.
   */
  stop(): Promise<void>;
  /**
   * Resolves once every change committed before the call has been handled (by emitting a
   * logical message and waiting for it). What an integration test calls after a write.
   */
  drain(): Promise<void>;
  /**
   * While streaming, reads the current rows of the tables (default: every dispatched table) in
   * chunks by primary key and delivers each as a `'snapshot'` change through the same handlers,
   * retries and dead letter as streamed changes. Consistent with the stream (DBLog watermarks:
   * a snapshot row never overtakes a newer change of its key) and resumable (progress is kept
   * in `koyo.backfill_progress`; an interrupted backfill resumes after its last acknowledged
   * chunk). Backfills run one after the other.
   *
   * @example
   * const { tables } = await dispatcher.backfill('users', { chunkSize: 5_000 });
   */
  backfill(tables?: string | string[], options?: BackfillOptions): Promise<BackfillResult>;
  /** Progress counters. */
  stats(): DispatcherStats;
  /**
   * Loop-safe writes from handlers: a `pg` pool (one connection) whose session is tagged with
   * the replication origin {@link Dispatcher.origin}. What a handler writes through it is not
   * delivered back to this dispatcher (`ignoreOrigins`), so a handler may update the very table
   * it listens to. Taken before `start()`, `start()` checks the role may use origins (else
   * `PERMISSION_DENIED` with the GRANTs, before anything is created). Closed by `stop()`.
   *
   * @example
   * dispatcher.onTable('orders', { insert: (change) =>
   *   dispatcher.db.query('UPDATE orders SET total = price * qty WHERE id = $1', [change.id]) });
   */
  readonly db: OriginPool;
  /** The replication origin of {@link Dispatcher.db}: `koyo_<slot>`. */
  readonly origin: string;
  /** Settles when the dispatcher has stopped: resolves after `stop()`, rejects with the error that stopped it. */
  readonly closed: Promise<void>;
}
