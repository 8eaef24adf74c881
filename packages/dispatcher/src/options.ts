import {
  assertPublicationName,
  assertSlotName,
  KoyoSlotError,
  originNameForSlot,
  type ConnectionOptions,
} from '@koyo/slot';
import type { DeliveryPolicy } from './delivery.js';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { DeliveryItem, ErrorDecision, RetryOptions } from './types.js';

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  /**
   * Connection string or `pg` client config of the primary (a role with REPLICATION). It may name
   * several hosts, like libpq (`postgres://user@h1:5432,h2:5432/db`, or `{ hosts: ['h1:5432',
   * 'h2:5432'], user, database }`): the stream and every helper session connect to the host that
   * is not in recovery, and after a failover reconnect to the promoted one. Two writable hosts
   * are `SPLIT_BRAIN`, never a guess.
   */
  connection: ConnectionOptions;
  /** Replication slot name (created when missing unless `createSlot: false`). */
  slot: string;
  /** Publication name (created when missing unless `createPublication: false`). */
  publication: string;
  /**
   * Tables to dispatch (`'users'`, `'schema.table'`, `'"Quoted"."Names"'`). An unqualified name is
   * resolved like PostgreSQL resolves it, on the `search_path` of `connection`, when the
   * dispatcher starts. When the dispatcher creates the publication, it is created `FOR TABLE`
   * these tables; a table without a primary key or replica identity is refused
   * (`REPLICA_IDENTITY_MISSING`), since publishing it would make PostgreSQL reject its UPDATE and
   * DELETE statements.
   *
   * `'*'`: every table of the publication, and a missing publication is created
   * `FOR ALL TABLES` (needs a superuser; refused while a table of the database has no replica
   * identity). Omitted: every table of an existing publication; a missing publication is a
   * `PUBLICATION_TABLES_REQUIRED` error (koyo never publishes every table unless asked).
   */
  tables?: string[] | '*';
  /** Create the slot (pgoutput) if it does not exist. Default true. */
  createSlot?: boolean;
  /**
   * PostgreSQL 17+: create the slot as a failover slot, which the server synchronises to standbys
   * that have `sync_replication_slots = on` (see the README's "Failover" section), so that after
   * a promotion this dispatcher (with a multi-host `connection`) resumes on the new primary from
   * the synchronised position. An existing slot that is not a failover slot is `SLOT_MISMATCH`
   * with the fix. Before 17: `UNSUPPORTED`, saying what the version can do instead. Default false.
   */
  failover?: boolean;
  /**
   * How often, in ms, the dispatcher reads its slot's WAL retention (`stats().slot`, the
   * retained-WAL warning, invalidation). Default 10 000.
   */
  slotCheckIntervalMs?: number;
  /**
   * When `max_slot_wal_keep_size` is unlimited: the retained WAL, in bytes, past which the
   * dispatcher logs a warning (once, until it falls back below). With a limit, the warning comes
   * at 80% of it instead. Default 10 GiB.
   */
  retainedWalWarningBytes?: number;
  /** Create the publication if it does not exist. Default true. */
  createPublication?: boolean;
  /**
   * PostgreSQL 18+: a publication the dispatcher creates publishes stored generated columns
   * (`publish_generated_columns = stored`), so `change.new` has them. Default true. Before 18,
   * pgoutput never sends generated columns (`diagnose()` lists the tables that have them).
   */
  publishGeneratedColumns?: boolean;
  /**
   * Handler calls running at once. Default 1: strictly one after the other in commit and WAL
   * order. With n > 1, changes of different (table, key) run in parallel; changes of one row
   * keep their order, truncates wait for everything before them.
   */
  concurrency?: number;
  /** Changes per `onTransaction` chunk. Default 1000. */
  batchSize?: number;
  /** With `concurrency > 1`: changes queued before reading pauses. Default 10 000. */
  maxPending?: number;
  /** Retry policy for failing handlers. */
  retry?: RetryOptions;
  /**
   * Called when a handler failed on every attempt: return `'skip'` to go on (the item is parked
   * with `deadLetter` when given) or `'stop'` to stop the dispatcher without acknowledging it.
   * Default: `'skip'` into `deadLetter` when given, else `'stop'`.
   */
  onError?: (error: Error, item: DeliveryItem) => ErrorDecision | Promise<ErrorDecision>;
  /** Parks an item whose handler failed on every attempt; the dispatcher then goes on. */
  deadLetter?: (item: DeliveryItem, error: Error) => void | Promise<void>;
  /** A pino-compatible logger; `false` for none. Default: `source=koyo level=info ...` lines on stderr. */
  logger?: Logger | false;
  /** Streamed transactions: changes kept in memory per transaction before spilling to a temp file. Default 10 000. */
  spillThreshold?: number;
  /** Start position for the first connection (default: the slot's confirmed position). */
  startLsn?: bigint;
  /** pgoutput protocol version. Default `'auto'` (the highest the server supports). */
  protocolVersion?: 'auto' | 1 | 2 | 3 | 4;
  /** Changes by origin: `'none'` skips changes applied by other replication (PostgreSQL 16+). */
  origin?: 'any' | 'none';
  /**
   * Transactions not delivered, by replication origin. `'own'` (default): those written through
   * `dispatcher.db` (origin `koyo_<slot>`), so a handler never hears its own writes. `'all'`:
   * every transaction that carries an origin (writes of any dispatcher's `db`, of a logical
   * replication subscriber, ...); on PostgreSQL 16+ the server filters them (`origin: 'none'`).
   * A list: these origin names, besides the own one.
   */
  ignoreOrigins?: 'own' | 'all' | readonly string[];
  /**
   * How long a new `dispatcher.db` session waits, in ms, for another session to let go of the
   * replication origin (one session at a time may use it) before failing with `ORIGIN_ACTIVE`.
   * Default 10 000: after a SIGKILL, the old backend holds it until the server notices.
   */
  originWaitMs?: number;
  /**
   * Let the server stream large in-progress transactions (protocol 2+). The dispatcher buffers
   * them (spilling to disk) until they commit. Default false: the server spills and sends each
   * transaction after its commit, and the dispatcher delivers it as it arrives.
   */
  streaming?: boolean | 'parallel';
  /** Interval of status updates (keepalives) to the server. */
  statusIntervalMs?: number;
  /**
   * How soon, in ms, an acknowledged position is sent to the server after the handlers of its
   * transaction finished. Default 100; acknowledgements within this window share one status
   * update. `Infinity` sends them only with the periodic status updates (`statusIntervalMs`).
   */
  ackDelayMs?: number;
  /** Messages buffered by the stream before the socket is paused. */
  bufferSize?: number;
  /**
   * Reconnect policy of the stream (see `@koyo/slot`). The dispatcher caps the delay at 5 s by
   * default (`maxDelayMs`), so a standby on an active slot takes over within seconds.
   */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** Parsers by type OID, overriding `pg`'s (as in `pg.types.setTypeParser`). */
  typeParsers?: Record<number, (value: string) => unknown>;
  /** Aborting the signal stops the dispatcher (like `stop()`). */
  signal?: AbortSignal;
  /**
   * `'initial'`: when this dispatcher creates its slot (first start), every existing row of the
   * dispatched tables is delivered as a `'snapshot'` change, interleaved with the stream and
   * consistent with it (see `backfill()`); later starts do not backfill again. An interrupted
   * backfill resumes on the next start whatever this option says.
   */
  backfill?: 'initial';
}

/** Options with defaults applied. */
export interface ResolvedOptions {
  /** Origin names whose transactions are skipped; `null`: every origin. */
  ignoredOrigins: ReadonlySet<string> | null;
  originWaitMs: number;
  concurrency: number;
  batchSize: number;
  maxPending: number;
  spillThreshold: number;
  slotCheckIntervalMs: number;
  retainedWalWarningBytes: number;
  policy: DeliveryPolicy;
}

/** Checks an optional integer option; throws `INVALID_OPTION` naming it. */
export function positiveInt(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `${name} must be an integer >= ${min}, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function nonNegative(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `${name} must be a number >= 0, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/** Whether `name` passes one of @koyo/slot's name rules (slot owns them; the message stays ours). */
function follows(rule: (name: unknown) => void, name: unknown): boolean {
  try {
    rule(name);
    return true;
  } catch (error) {
    if (error instanceof KoyoSlotError) return false;
    throw error;
  }
}

/** Checks options and applies defaults; throws `INVALID_OPTION` naming the bad one. */
export function resolveOptions(options: DispatcherOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      'createDispatcher(options) needs an options object: { connection, slot, publication }.',
    );
  }
  if (
    typeof options.connection !== 'string' &&
    (options.connection === null || typeof options.connection !== 'object')
  ) {
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      'connection must be a connection string (postgres://user@host/db) or a pg ClientConfig object.',
    );
  }
  if (!follows(assertSlotName, options.slot)) {
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `slot must be 1-63 lower-case letters, digits or underscores (PostgreSQL's rule for slot names), got ${JSON.stringify(options.slot)}.`,
    );
  }
  if (!follows(assertPublicationName, options.publication)) {
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `publication must be 1-63 letters, digits, _, $ or - (used exactly as written, case included), got ${JSON.stringify(options.publication)}.`,
    );
  }
  if (
    options.tables !== undefined &&
    options.tables !== '*' &&
    (!Array.isArray(options.tables) || options.tables.length === 0)
  ) {
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      "tables must be a non-empty array of table names, or '*' for every table (FOR ALL TABLES); leave it out to dispatch every table of an existing publication.",
    );
  }
  for (const key of [
    'createSlot',
    'createPublication',
    'publishGeneratedColumns',
    'failover',
  ] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean')
      throw new KoyoDispatcherError('INVALID_OPTION', `${key} must be true or false.`);
  }
  if (options.onError !== undefined && typeof options.onError !== 'function')
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      'onError must be a function (error, item) => "skip" | "stop".',
    );
  if (options.deadLetter !== undefined && typeof options.deadLetter !== 'function')
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      'deadLetter must be a function (item, error) => void | Promise<void>.',
    );
  if (
    options.ackDelayMs !== undefined &&
    (typeof options.ackDelayMs !== 'number' ||
      Number.isNaN(options.ackDelayMs) ||
      options.ackDelayMs < 1)
  )
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `ackDelayMs must be a number >= 1 (or Infinity to send acknowledgements only with the periodic status updates), got ${JSON.stringify(options.ackDelayMs)}.`,
    );
  if (options.backfill !== undefined && options.backfill !== 'initial')
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `backfill must be 'initial' (backfill existing rows when the slot is created) or left out, got ${JSON.stringify(options.backfill)}.`,
    );
  const retry = options.retry ?? {};
  return {
    ignoredOrigins: resolveIgnoredOrigins(options.ignoreOrigins, originNameForSlot(options.slot)),
    originWaitMs: nonNegative(options.originWaitMs, 'originWaitMs', 10_000),
    concurrency: positiveInt(options.concurrency, 'concurrency', 1),
    batchSize: positiveInt(options.batchSize, 'batchSize', 1000),
    maxPending: positiveInt(options.maxPending, 'maxPending', 10_000),
    spillThreshold: positiveInt(options.spillThreshold, 'spillThreshold', 10_000),
    slotCheckIntervalMs: positiveInt(options.slotCheckIntervalMs, 'slotCheckIntervalMs', 10_000),
    retainedWalWarningBytes: positiveInt(
      options.retainedWalWarningBytes,
      'retainedWalWarningBytes',
      10 * 1024 ** 3,
    ),
    policy: {
      attempts: positiveInt(retry.attempts, 'retry.attempts', 3),
      backoffMs: nonNegative(retry.backoffMs, 'retry.backoffMs', 100),
      maxBackoffMs: nonNegative(retry.maxBackoffMs, 'retry.maxBackoffMs', 5000),
      onError: options.onError,
      deadLetter: options.deadLetter,
    },
  };
}

function resolveIgnoredOrigins(
  value: DispatcherOptions['ignoreOrigins'],
  own: string,
): ReadonlySet<string> | null {
  if (value === undefined || value === 'own') return new Set([own]);
  if (value === 'all') return null;
  if (!Array.isArray(value) || value.some((name) => typeof name !== 'string' || name === ''))
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `ignoreOrigins must be 'own', 'all' or an array of replication origin names, got ${JSON.stringify(value)}.`,
    );
  return new Set([own, ...value]);
}
