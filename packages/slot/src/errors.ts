/** Every `code` a {@link KoyoSlotError} can carry. */
export type KoyoSlotErrorCode =
  /** A slot, publication, table or role name is not acceptable; nothing was sent to the server. */
  | 'INVALID_IDENTIFIER'
  /** An option has a wrong type or value, or needs a newer PostgreSQL. */
  | 'INVALID_OPTION'
  /** `acknowledge()` got a position that is not a bigint, or one beyond what was received. */
  | 'INVALID_ACK'
  /** The replication slot does not exist. Never retried: recreating it would skip data. */
  | 'SLOT_NOT_FOUND'
  /** The slot was invalidated (`wal_status = lost`, or a conflict on a standby). Never retried. */
  | 'SLOT_INVALIDATED'
  /** The slot exists but cannot be used as asked (other plugin, physical, other database, other options). */
  | 'SLOT_MISMATCH'
  /** Another process is streaming from the slot (retried by streams; an error for `dropSlot` without `force`). */
  | 'SLOT_ACTIVE'
  /** A publication does not exist. */
  | 'PUBLICATION_NOT_FOUND'
  /** A replication origin is set up by another session (one session per origin); dropping it waits, then fails with this. */
  | 'ORIGIN_ACTIVE'
  /**
   * A publication the stream reads went missing while it was streaming (dropped; PostgreSQL 16+
   * warns `skipped loading publication` and skips changes, 15 fails with 42704). Never retried,
   * and nothing from that position on is confirmed.
   */
  | 'PUBLICATION_MISSING'
  /**
   * The publication does not exist and no tables were given: koyo creates a publication
   * `FOR ALL TABLES` only when asked (`tables: '*'`), since it makes every table without a primary
   * key reject UPDATE and DELETE.
   */
  | 'PUBLICATION_TABLES_REQUIRED'
  /**
   * A table to publish has no primary key or replica identity: once published, PostgreSQL would
   * reject its UPDATE and DELETE. Add a primary key, or `ALTER TABLE ... REPLICA IDENTITY FULL`.
   */
  | 'REPLICA_IDENTITY_MISSING'
  /** An existing publication cannot be made to match what was asked. */
  | 'PUBLICATION_MISMATCH'
  /** A table named for a publication does not exist. */
  | 'TABLE_NOT_FOUND'
  /** `wal_level` is not `logical`. */
  | 'WAL_LEVEL'
  /** Every replication slot (`max_replication_slots`) or WAL sender (`max_wal_senders`) is in use. */
  | 'SLOT_LIMIT'
  /** The role lacks a privilege (REPLICATION, CREATE on the database, table ownership, ...). */
  | 'PERMISSION_DENIED'
  /** Authentication failed. */
  | 'AUTHENTICATION_FAILED'
  /** The server does not support the asked pgoutput protocol version or option. */
  | 'PROTOCOL_UNSUPPORTED'
  /** The connection failed or was lost. */
  | 'CONNECTION_FAILED'
  /** Reconnecting gave up after `reconnect.maxAttempts` attempts. */
  | 'RECONNECT_FAILED'
  /** A replication message could not be decoded. */
  | 'DECODE_FAILED'
  /** The stream was used after it stopped, or iterated twice. */
  | 'STREAM_CLOSED'
  /** The PostgreSQL version cannot do what was asked (e.g. failover slots before 17); the message says what it can do instead. */
  | 'UNSUPPORTED'
  /** Several hosts of one connection accept writes: koyo does not guess which is the primary. */
  | 'SPLIT_BRAIN'
  /** The server reported an error that none of the codes above describes. */
  | 'SERVER_ERROR';

/** Options of {@link KoyoSlotError}. */
export interface KoyoSlotErrorOptions {
  /** The underlying error (a `pg` DatabaseError keeps its SQLSTATE, detail and hint). */
  cause?: unknown;
  /** SQLSTATE, when not taken from `cause`. */
  sqlState?: string | undefined;
  /** PostgreSQL's DETAIL, when not taken from `cause`. */
  detail?: string | undefined;
  /** PostgreSQL's HINT, when not taken from `cause`. */
  hint?: string | undefined;
  /** For a setup that was refused before it changed anything: every precondition that failed. */
  problems?: readonly SetupProblem[] | undefined;
}

/** A precondition of a setup that does not hold (see `checkSetup`). */
export interface SetupProblem {
  /** The error code this problem has on its own. */
  code: KoyoSlotErrorCode;
  /** What was found, in a sentence. */
  message: string;
  /** The SQL or setting that fixes it; `null` when there is no single fix. */
  fix: string | null;
}

/**
 * The one error class of `@koyo/slot`. `code` says what went wrong; the message says what to do.
 * Errors that come from PostgreSQL keep its SQLSTATE (`sqlState`), `detail` and `hint`, and the
 * original error as `cause`.
 *
 * @example
 * try {
 *   await manager.ensureSlot('orders');
 * } catch (error) {
 *   if (error instanceof KoyoSlotError && error.code === 'WAL_LEVEL') console.error(error.message);
 * }
 */
export class KoyoSlotError extends Error {
  override readonly name = 'KoyoSlotError';
  readonly code: KoyoSlotErrorCode;
  /** SQLSTATE of the PostgreSQL error behind this one, if any. */
  readonly sqlState: string | undefined;
  /** PostgreSQL's DETAIL, if any. */
  readonly detail: string | undefined;
  /** PostgreSQL's HINT, if any. */
  readonly hint: string | undefined;
  /** For a setup refused before it changed anything (`ensureSetup`): every failed precondition. */
  readonly problems: readonly SetupProblem[] | undefined;

  constructor(code: KoyoSlotErrorCode, message: string, options: KoyoSlotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    const pgError = asPgError(options.cause);
    this.sqlState = options.sqlState ?? pgError?.code;
    this.detail = options.detail ?? pgError?.detail;
    this.hint = options.hint ?? pgError?.hint;
    this.problems = options.problems;
  }
}

/**
 * What to do about an invalidated slot, in one place: its changes are gone, so the data is
 * rebuilt from the tables into a new slot.
 */
export function invalidatedSlotAdvice(slot: string): string {
  return (
    `Drop it (koyo slots drop ${slot}, or dropSlot("${slot}")), create a new slot and backfill: ` +
    "createDispatcher({ ..., backfill: 'initial' }) or `koyo run --backfill` brings every existing row through your handlers as a 'snapshot' change. " +
    'Changes made while the slot was lost were not kept; set max_slot_wal_keep_size and watch the retained-WAL warning to avoid it.'
  );
}

/** The fields of a `pg` DatabaseError that matter here. */
export interface PgErrorLike {
  message: string;
  code?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
}

/**
 * @internal a `pg` DatabaseError (it has a five-character SQLSTATE `code`). A Node.js socket
 * error is not one, even when its code has five capital letters too (`EPIPE`, `EBADF`): it has
 * a `syscall` and a numeric `errno`.
 */
export function asPgError(error: unknown): PgErrorLike | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, syscall, errno } = error as { code?: unknown; syscall?: unknown; errno?: unknown };
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (typeof syscall === 'string' || typeof errno === 'number') return undefined;
  return error as PgErrorLike;
}

/** @internal what a failure means for a stream: retry later, or give up with a typed error. */
export interface ClassifiedError {
  retry: boolean;
  error: KoyoSlotError;
}

/** A lost or refused connection: retried with backoff. */
function connectionLost(message: string, cause: unknown): ClassifiedError {
  return {
    retry: true,
    error: new KoyoSlotError(
      'CONNECTION_FAILED',
      `Connection to PostgreSQL failed or was lost: ${message}`,
      { cause },
    ),
  };
}

/**
 * @internal maps an error from `pg` (server error or network failure) to a typed error, and
 * says whether a replication stream should retry. `context` names the slot/publications for
 * messages.
 */
export function classifyError(
  error: unknown,
  context: { slot?: string; publications?: readonly string[] } = {},
): ClassifiedError {
  if (error instanceof KoyoSlotError) {
    return { retry: error.code === 'SLOT_ACTIVE' || error.code === 'CONNECTION_FAILED', error };
  }
  const pgError = asPgError(error);
  const message = error instanceof Error ? error.message : String(error);
  const slot =
    context.slot === undefined ? 'the replication slot' : `replication slot "${context.slot}"`;
  if (!pgError) return connectionLost(message, error);
  const state = pgError.code ?? '';
  const fatal = (code: KoyoSlotErrorCode, text: string): ClassifiedError => ({
    retry: false,
    error: new KoyoSlotError(code, text, { cause: error }),
  });
  if (state === '55006') {
    return {
      retry: true,
      error: new KoyoSlotError(
        'SLOT_ACTIVE',
        `${capitalize(slot)} is in use by another process (${message}). Stop the other consumer, or let this one wait as a hot standby.`,
        { cause: error },
      ),
    };
  }
  if (/wal_level"? >= "?logical/i.test(message) || /requires "?wal_level"?/i.test(message)) {
    return fatal(
      'WAL_LEVEL',
      `Logical replication needs wal_level = logical (${message}). Run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL.`,
    );
  }
  if (state === '42704' && /replication slot/i.test(message)) {
    return fatal(
      'SLOT_NOT_FOUND',
      `${capitalize(slot)} does not exist (${message}). Create it with createSlotManager(...).ensureSlot(name); koyo never recreates a slot by itself, since a new slot skips every change made before it.`,
    );
  }
  if (state === '42704' && /publication/i.test(message)) {
    return fatal(
      'PUBLICATION_NOT_FOUND',
      `${message}. Create it with createSlotManager(...).ensurePublication(name, { tables }) or CREATE PUBLICATION.`,
    );
  }
  if (
    state === '55000' &&
    /(invalidated|can no longer|no longer get changes|conflict)/i.test(message)
  ) {
    return fatal(
      'SLOT_INVALIDATED',
      `${capitalize(slot)} was invalidated (${message}); the WAL it needed is gone. ${invalidatedSlotAdvice(context.slot ?? '<slot>')}`,
    );
  }
  if (state === '0A000' || /proto_version|protocol version/i.test(message)) {
    return fatal(
      'PROTOCOL_UNSUPPORTED',
      `The server does not support what was asked (${message}). Use protocolVersion: 'auto' or drop the option.`,
    );
  }
  if (state === '42501') {
    return fatal(
      'PERMISSION_DENIED',
      `Permission denied (${message}). The role needs the REPLICATION attribute (ALTER ROLE name WITH REPLICATION;) and the privileges named above.`,
    );
  }
  if (state.startsWith('28')) {
    return fatal(
      'AUTHENTICATION_FAILED',
      `Authentication failed (${message}). Check the user, password and pg_hba.conf (it needs a line for replication connections to this database).`,
    );
  }
  if (state === '42601' || state === '22023' || state === '42P02') {
    return fatal('INVALID_OPTION', `The server rejected the replication command (${message}).`);
  }
  const retryable =
    state.startsWith('08') ||
    state.startsWith('53') ||
    state.startsWith('57P') ||
    state.startsWith('40') ||
    state === '58000';
  if (retryable) return connectionLost(message, error);
  return fatal('SERVER_ERROR', `PostgreSQL reported an error: ${message}`);
}

/** @internal a NOTICE/WARNING or error from the walsender: only its SQLSTATE and text matter. */
export interface ServerNotice {
  message: string;
  code?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
}

/**
 * @internal whether the walsender says a publication of the stream does not exist (any more):
 * the WARNING `skipped loading publication "x"` (55000, PostgreSQL 16+; it then skips the
 * changes) or the error `publication "x" does not exist` (42704).
 */
export function isPublicationMissing(notice: ServerNotice): boolean {
  return (
    (notice.code === '55000' && /skipped loading publication/i.test(notice.message)) ||
    (notice.code === '42704' && /publication/i.test(notice.message))
  );
}

/**
 * @internal the error that ends a stream whose publication went missing. `confirmedLsn` is the
 * acknowledged position when the server said so: the stream confirms nothing beyond it.
 */
export function publicationMissingError(
  notice: ServerNotice,
  context: { slot: string; publications: readonly string[]; confirmedLsn: string; cause?: unknown },
): KoyoSlotError {
  const names = context.publications.map((n) => `"${n}"`).join(', ');
  return new KoyoSlotError(
    'PUBLICATION_MISSING',
    `A publication of replication slot "${context.slot}" (${names}) went missing while streaming (${notice.message}). ` +
      `The stream stopped without confirming anything past ${context.confirmedLsn}, so the slot still holds the changes made since. ` +
      'Recreate the publication (re-run setup, e.g. `koyo setup --apply`, or createSlotManager(...).ensurePublication(name, { tables })) and start again; ' +
      'changes written while it did not exist are not in it, so if the server still reports it missing at that position, resynchronise those tables and move the slot past it (pg_replication_slot_advance).',
    { cause: context.cause, sqlState: notice.code, detail: notice.detail, hint: notice.hint },
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
