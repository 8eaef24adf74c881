// The change types a handler receives; `@koyo/nats` re-exports them for its workers.
import type { HandlerResult } from './types.js';

/**
 * What every {@link Change} carries besides its kind and rows.
 *
 * `(commitLsn, position)` is its idempotency key: a redelivered change (after a crash or a
 * restart) carries the same pair, so a sink de-duplicates by storing the last pair it applied
 * (per table or per key) and ignoring changes that are not after it. Pairs compare by
 * `parseLsn(commitLsn)` first, then `position`.
 *
 * @example
 * const idempotencyKey = (change: ChangeBase) => `${change.commitLsn}/${change.position}`;
 */
export interface ChangeBase<Row = Record<string, unknown>> {
  /** Schema of the table, e.g. `'public'`. */
  schema: string;
  /** Table name without schema, e.g. `'users'`. */
  table: string;
  /**
   * The row's identity: the replica-identity columns (the primary key by default). For tables
   * with `REPLICA IDENTITY FULL` or `NOTHING`, the primary key columns (looked up once per
   * relation), or every column (FULL) / `null` (NOTHING) when the table has no primary key.
   * `null` for truncates.
   */
  key: Partial<Row> | null;
  /** The key's value when the key has exactly one column (e.g. `users.id`), else `null`. */
  id: unknown;
  /**
   * Columns whose TOASTed value did not change and was not sent (updates only, else empty). With
   * `REPLICA IDENTITY FULL` their value in `new` is filled from `old`; otherwise they are absent
   * from `new` (never `null`).
   */
  unchanged: string[];
  /** The transaction's commit LSN, PostgreSQL form (`'16/B374D848'`). */
  commitLsn: string;
  /** Index of this change (or logical message) in its transaction, from 0. */
  position: number;
  /** Transaction id. */
  xid: number;
  /** Commit time, ISO 8601 with microseconds (`'2024-05-01T10:00:00.123456Z'`). */
  commitTime: string;
}

/**
 * A row inserted: `new` is the whole row, `old` is `null`.
 *
 * @example
 * dispatcher.onTable<{ id: number; email: string }>('users', {
 *   insert: (change) => mailer.welcome(change.new.email),
 * });
 */
export interface InsertChange<Row = Record<string, unknown>> extends ChangeBase<Row> {
  kind: 'insert';
  /** The row as inserted. */
  new: Row;
  old: null;
}

/**
 * A row updated: `new` is the row after the update (minus the `unchanged` TOAST columns with the
 * default replica identity). `old` is what the server sent of the row before: every column with
 * `REPLICA IDENTITY FULL`, only the key columns when the update changed the key, else `null`.
 *
 * @example
 * dispatcher.onTable<{ id: number; email: string }>('users', {
 *   update: (change) => audit.log(change.old?.email, change.new.email),
 * });
 */
export interface UpdateChange<Row = Record<string, unknown>> extends ChangeBase<Row> {
  kind: 'update';
  /** The row after the update. */
  new: Row;
  /** The row before the update, partial or absent depending on the replica identity. */
  old: Partial<Row> | null;
}

/**
 * A row deleted: `new` is `null`; `old` holds the key columns (every column with
 * `REPLICA IDENTITY FULL`), or is `null` for a table with `REPLICA IDENTITY NOTHING`.
 *
 * @example
 * dispatcher.onTable('users', { delete: (change) => search.remove('users', change.id) });
 */
export interface DeleteChange<Row = Record<string, unknown>> extends ChangeBase<Row> {
  kind: 'delete';
  new: null;
  /** The key columns of the deleted row (every column with `REPLICA IDENTITY FULL`). */
  old: Partial<Row> | null;
}

/**
 * The table was truncated: one change per truncated table, with no rows and no key.
 *
 * @example
 * dispatcher.onTable('users', { truncate: () => search.clear('users') });
 */
export interface TruncateChange<Row = Record<string, unknown>> extends ChangeBase<Row> {
  kind: 'truncate';
  key: null;
  id: null;
  new: null;
  old: null;
}

/**
 * An existing row delivered by a backfill (`dispatcher.backfill()` or `backfill: 'initial'`):
 * `new` is the row, with values exactly as for an insert; `old` is `null`.
 *
 * Its idempotency key `(commitLsn, position)` is the high watermark's: `commitLsn` is the commit
 * LSN of the backfill's own watermark transaction (which holds nothing else) and `position` is
 * 1, 2, ... for the rows of the chunk, so it never collides with a streamed change and orders
 * after everything the stream delivered before it.
 *
 * @example
 * dispatcher.onTable('users', { snapshot: (change) => search.index('users', change.new) });
 */
export interface SnapshotChange<Row = Record<string, unknown>> extends ChangeBase<Row> {
  kind: 'snapshot';
  /** The row as read by the backfill. */
  new: Row;
  old: null;
}

/**
 * Every variant of {@link Change} by its `kind`. {@link Change}, {@link ChangeKind} and
 * {@link TableHandlers} are derived from it, so a new variant is added in one place.
 *
 * @example
 * type Updates = ChangeByKind<{ id: number }>['update']; // UpdateChange<{ id: number }>
 */
export interface ChangeByKind<Row = Record<string, unknown>> {
  insert: InsertChange<Row>;
  update: UpdateChange<Row>;
  delete: DeleteChange<Row>;
  truncate: TruncateChange<Row>;
  snapshot: SnapshotChange<Row>;
}

/** The kind of a {@link Change}. */
export type ChangeKind = keyof ChangeByKind;

/**
 * One committed row change (the gem's `DataRow`): a plain, JSON-serialisable object, a union
 * discriminated by `kind` — after `if (change.kind === 'insert')`, `change.new` is a `Row`.
 * See {@link ChangeBase} for the fields every kind shares (and the idempotency key).
 *
 * @example
 * dispatcher.onTable<{ id: number; email: string }>('users', (change) => {
 *   if (change.kind === 'insert') queue.add('welcome-mail', { email: change.new.email });
 * });
 */
export type Change<Row = Record<string, unknown>> = ChangeByKind<Row>[ChangeKind];

/** A handler for every change, or for the changes of one table. */
export type ChangeHandler<Row = Record<string, unknown>> = (change: Change<Row>) => HandlerResult;

/**
 * Per-kind handlers for one table; every key is optional, and each gets its kind's change type
 * (`insert` gets an {@link InsertChange}, whose `new` is a `Row`).
 *
 * @example
 * const handlers: TableHandlers<{ id: number; email: string }> = {
 *   insert: (change) => mailer.welcome(change.new.email),
 * };
 */
export type TableHandlers<Row = Record<string, unknown>> = {
  [K in ChangeKind]?: (change: ChangeByKind<Row>[K]) => HandlerResult;
};
