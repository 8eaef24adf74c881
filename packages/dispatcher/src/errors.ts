import type { DeliveryItem } from './types.js';

/** What went wrong in a dispatcher. */
export type KoyoDispatcherErrorCode =
  /** An option has a wrong type or value; the message names it. */
  | 'INVALID_OPTION'
  /** A table name given to `onTable` or `tables` cannot be parsed. */
  | 'INVALID_TABLE_NAME'
  /** A handler kept failing after every retry and the policy was to stop. */
  | 'HANDLER_FAILED'
  /** The `deadLetter` handler itself failed, so the change could not be parked. */
  | 'DEAD_LETTER_FAILED'
  /** The `onError` policy function threw or returned something other than 'skip' or 'stop'. */
  | 'ON_ERROR_FAILED'
  /** `start()` was called on a dispatcher that is already running or was stopped. */
  | 'ALREADY_STARTED'
  /** `drain()` was called on a dispatcher that is not running. */
  | 'NOT_RUNNING'
  /** The dispatcher stopped (by `stop()` or an error) before the awaited work completed. */
  | 'STOPPED'
  /** Setting up the slot or publication failed. */
  | 'SETUP_FAILED'
  /** The replication stream failed and could not reconnect. */
  | 'STREAM_FAILED'
  /**
   * The publication was dropped while the dispatcher streamed it (`@koyo/slot`'s code, passed
   * through). Nothing from that position on was acknowledged; recreate the publication or re-run setup.
   */
  | 'PUBLICATION_MISSING'
  /**
   * The publication does not exist and `tables` was not given (`@koyo/slot`'s code, passed
   * through): list the tables, or pass `tables: '*'` to create it `FOR ALL TABLES`.
   */
  | 'PUBLICATION_TABLES_REQUIRED'
  /**
   * A table to publish has no primary key or replica identity (`@koyo/slot`'s code, passed
   * through): add a primary key or `ALTER TABLE ... REPLICA IDENTITY FULL`, then start again.
   */
  | 'REPLICA_IDENTITY_MISSING'
  /**
   * The PostgreSQL version cannot do what was asked (`failover: true` before 17; `@koyo/slot`'s
   * code, passed through); the message says what the version can do instead.
   */
  | 'UNSUPPORTED'
  /**
   * The slot was invalidated (the WAL it needed was removed, `max_slot_wal_keep_size`, or a
   * conflict on a standby); `@koyo/slot`'s code, passed through. It can never stream again: the
   * message says how to recover (a new slot and a backfill).
   */
  | 'SLOT_INVALIDATED'
  /**
   * Several hosts of a multi-host `connection` accept writes (`@koyo/slot`'s code, passed
   * through): fence the old primary; koyo does not guess.
   */
  | 'SPLIT_BRAIN'
  /** The server sent something the dispatcher cannot handle (e.g. two-phase messages). */
  | 'PROTOCOL_ERROR'
  /** A streamed transaction could not be spilled to or read back from disk. */
  | 'SPILL_FAILED'
  /** A table to backfill has no primary key and no usable unique key; the message says what to add. */
  | 'NO_USABLE_KEY'
  /** A backfill could not read a chunk, write a watermark or record its progress. */
  | 'BACKFILL_FAILED'
  /**
   * The role may not use replication origins (`dispatcher.db`); the message lists the GRANT
   * statements that fix it. Nothing was created.
   */
  | 'PERMISSION_DENIED'
  /**
   * Another session still has the dispatcher's replication origin set up after `originWaitMs`
   * (a second process writing through `dispatcher.db` of the same slot, or a killed one the
   * server has not reaped yet).
   */
  | 'ORIGIN_ACTIVE';

/**
 * The one error class of `@koyo/dispatcher`. `code` says what failed, `cause` carries the
 * underlying error (a handler's error, a PostgreSQL error with its `code` SQLSTATE, ...).
 *
 * @example
 * dispatcher.closed.catch((error) => {
 *   if (error instanceof KoyoDispatcherError && error.code === 'HANDLER_FAILED') alert(error.message);
 * });
 */
export class KoyoDispatcherError extends Error {
  override readonly name = 'KoyoDispatcherError';
  readonly code: KoyoDispatcherErrorCode;
  /** The PostgreSQL SQLSTATE, when the cause is a server error. */
  readonly sqlState: string | undefined;
  /** For HANDLER_FAILED / DEAD_LETTER_FAILED / ON_ERROR_FAILED: the change, chunk or message that failed. */
  readonly item: DeliveryItem | undefined;

  constructor(
    code: KoyoDispatcherErrorCode,
    message: string,
    options?: { cause?: unknown; item?: DeliveryItem },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.item = options?.item;
    const cause = options?.cause as { code?: unknown; sqlState?: unknown } | undefined;
    const state = typeof cause?.sqlState === 'string' ? cause.sqlState : cause?.code;
    this.sqlState = typeof state === 'string' && /^[0-9A-Z]{5}$/.test(state) ? state : undefined;
  }
}

/** Turns any thrown value into an Error (handlers may throw strings). */
export function asError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : `non-Error value thrown: ${String(value)}`);
}

/** `@koyo/slot`'s stream errors whose code is kept, not wrapped as STREAM_FAILED. */
const PASSED_THROUGH = new Set(['PUBLICATION_MISSING', 'SLOT_INVALIDATED', 'SPLIT_BRAIN']);

function isPassedThrough(
  error: unknown,
): error is Error & { code: 'PUBLICATION_MISSING' | 'SLOT_INVALIDATED' | 'SPLIT_BRAIN' } {
  return error instanceof Error && PASSED_THROUGH.has(String((error as { code?: unknown }).code));
}

/**
 * @internal the error a running dispatcher fails with: a {@link KoyoDispatcherError} as it is,
 * `@koyo/slot`'s `PUBLICATION_MISSING`, `SLOT_INVALIDATED` and `SPLIT_BRAIN` with their code,
 * anything else as `STREAM_FAILED`.
 */
export function asStreamFailure(error: unknown): KoyoDispatcherError {
  if (error instanceof KoyoDispatcherError) return error;
  if (isPassedThrough(error))
    return new KoyoDispatcherError(error.code, error.message, { cause: error });
  return new KoyoDispatcherError(
    'STREAM_FAILED',
    `The replication stream failed: ${asError(error).message}`,
    { cause: error },
  );
}
