import { CHANGE_KINDS, isChangeSource, type Change } from '@koyo/dispatcher';
import { is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { KoyoDrizzleError } from './errors.js';
import { TableRowMapper, type ColumnCasing } from './table-rows.js';

/**
 * What {@link onTable} needs of a dispatcher: its `onTable(name, handler)` (a `@koyo/dispatcher`
 * `Dispatcher` has it).
 *
 * @example
 * const source: ChangeSource = createDispatcher({ connection, slot: 'app', publication: 'app', tables: ['users'] });
 */
export interface ChangeSource {
  onTable(name: string, handler: (change: Change) => void | Promise<void>): () => void;
}

/**
 * What every typed change carries besides its rows.
 *
 * @example
 * const seen = new Set<string>();
 * onTable(dispatcher, users, (change) => {
 *   const key = `${change.commitLsn}/${change.position}`; // idempotency key of a redelivery
 *   if (!seen.has(key)) seen.add(key);
 * });
 */
export interface TableChangeBase {
  /** Schema of the table, e.g. `'public'`. */
  schema: string;
  /** Table name in the database. */
  table: string;
  /** The transaction's commit LSN (`'16/B374D848'`): with `position`, the idempotency key. */
  commitLsn: string;
  /** Index of this change in its transaction, from 0. */
  position: number;
  /** Transaction id. */
  xid: number;
  /** Commit time, ISO 8601 with microseconds. */
  commitTime: string;
}

/**
 * Property names of a row type, e.g. of `change.unchanged`.
 *
 * @example
 * const keys: RowKey<typeof users.$inferSelect>[] = ['id', 'createdAt'];
 */
export type RowKey<Row> = Extract<keyof Row, string>;

/**
 * The fields an insert, update, delete or snapshot carries besides its kind and rows.
 */
interface RowChangeBase<Row> extends TableChangeBase {
  /** The replica-identity (primary key) properties of the row. */
  key: Partial<Row> | null;
  /** The key's value, mapped like its column, when the key has exactly one column; else `null`. */
  id: unknown;
  /** Properties absent from `new`: TOASTed values an update did not change. */
  unchanged: RowKey<Row>[];
}

/**
 * A row inserted into a Drizzle table. `new` is the row as `db.select()` returns it.
 *
 * @example
 * onTable(dispatcher, users, { insert: (change: InsertChange<typeof users.$inferSelect>) => mailer.welcome(change.new.email) });
 */
export interface InsertChange<Row> extends RowChangeBase<Row> {
  kind: 'insert';
  new: Row;
  old: null;
}

/**
 * A row updated in a Drizzle table. `new` is the row after the update; properties listed in
 * `unchanged` (TOASTed values that did not change, with the default replica identity) are absent
 * from it. `old` is the whole previous row with `REPLICA IDENTITY FULL`, else only the key
 * properties when the key changed, else `null`.
 */
export interface UpdateChange<Row> extends RowChangeBase<Row> {
  kind: 'update';
  new: Row;
  old: Partial<Row> | null;
}

/**
 * A row deleted from a Drizzle table: `old` holds the key properties (every property with
 * `REPLICA IDENTITY FULL`).
 *
 * @example
 * onTable(dispatcher, users, { delete: (change) => search.remove(change.old?.id) });
 */
export interface DeleteChange<Row> extends RowChangeBase<Row> {
  kind: 'delete';
  new: null;
  old: Partial<Row> | null;
}

/**
 * The table was truncated (no rows).
 *
 * @example
 * onTable(dispatcher, users, { truncate: () => search.clear('users') });
 */
export interface TruncateChange<Row> extends TableChangeBase {
  kind: 'truncate';
  key: null;
  id: null;
  new: null;
  old: null;
  unchanged: RowKey<Row>[];
}

/**
 * An existing row brought by a backfill (`dispatcher.backfill()` or `backfill: 'initial'`), typed
 * like an insert: `new` is the row as `db.select()` returns it.
 *
 * @example
 * onTable(dispatcher, users, { snapshot: (change) => search.index(change.new) });
 */
export interface SnapshotChange<Row> extends RowChangeBase<Row> {
  kind: 'snapshot';
  new: Row;
  old: null;
}

/**
 * Any typed change of a table whose rows are `Row` (a Drizzle table's `$inferSelect`); narrowing
 * on `kind` types `new` and `old`.
 *
 * @example
 * onTable(dispatcher, users, (change: TableChange<typeof users.$inferSelect>) => {
 *   if (change.kind === 'update') audit.log(change.old, change.new);
 * });
 */
export type TableChange<Row> =
  | InsertChange<Row>
  | UpdateChange<Row>
  | DeleteChange<Row>
  | TruncateChange<Row>
  | SnapshotChange<Row>;

/**
 * A handler's result: handlers may be sync or async; the dispatcher acknowledges a change only
 * once the returned promise settles.
 *
 * @example
 * const handler = async (): Promise<void> => {}; // HandlerResult
 */
export type HandlerResult = void | Promise<void>;

/**
 * Per-kind handlers for one Drizzle table; every key is optional.
 *
 * @example
 * const handlers: TableChangeHandlers<typeof users.$inferSelect> = { insert: (c) => queue.add(c.new.id) };
 * onTable(dispatcher, users, handlers);
 */
export interface TableChangeHandlers<Row> {
  insert?: (change: InsertChange<Row>) => HandlerResult;
  update?: (change: UpdateChange<Row>) => HandlerResult;
  delete?: (change: DeleteChange<Row>) => HandlerResult;
  truncate?: (change: TruncateChange<Row>) => HandlerResult;
  /** Existing rows from a backfill; without it, this object receives none. */
  snapshot?: (change: SnapshotChange<Row>) => HandlerResult;
}

/**
 * Options of {@link onTable}.
 *
 * @example
 * onTable(dispatcher, users, handler, { casing: 'snake_case' }); // as drizzle(url, { casing: 'snake_case' })
 */
export interface OnTableOptions {
  /**
   * The `casing` given to `drizzle()`, when columns are declared without explicit names
   * (`createdAt: timestamp()` stored as `created_at`). Default: property names as written.
   */
  casing?: ColumnCasing;
}

const KINDS = CHANGE_KINDS;

/**
 * Registers handlers for the changes of a Drizzle table on a `@koyo/dispatcher` dispatcher, with
 * rows typed and valued like the table: `change.new` and `change.old` are
 * `typeof table.$inferSelect`, keyed by the schema's property names, and every value goes through
 * its column's own mapping (timestamps as `Date` or string per `mode`, `json`/`jsonb` typed, enums,
 * `bigint` modes, custom types' `fromDriver`), so `change.new` deep-equals what
 * `db.select().from(table)` returns for that row. Returns the unsubscribe function.
 *
 * The table is matched by its schema and name (`public` for tables declared with `pgTable`).
 * Give the dispatcher `typeParsers: drizzleTypeParsers` for values exact to the microsecond.
 *
 * @example
 * onTable(dispatcher, users, {
 *   insert: async (change) => mailer.welcome(change.new.email, change.new.createdAt),
 *   update: (change) => search.reindex(change.new),
 * });
 */
export function onTable<TTable extends PgTable>(
  dispatcher: ChangeSource,
  table: TTable,
  handler:
    | ((change: TableChange<TTable['$inferSelect']>) => HandlerResult)
    | TableChangeHandlers<TTable['$inferSelect']>,
  options: OnTableOptions = {},
): () => void {
  checkArguments(dispatcher, table, options);
  const mapper = new TableRowMapper(table, options.casing);
  const label = `onTable(${mapper.schema}.${mapper.table})`;
  if (typeof handler === 'function') {
    return dispatcher.onTable(mapper.qualifiedName, (change) =>
      handler(toTableChange(mapper, change) as TableChange<TTable['$inferSelect']>),
    );
  }
  const handlers = checkHandlers(label, handler);
  return dispatcher.onTable(mapper.qualifiedName, (change) => {
    const fn = handlers[change.kind];
    return fn ? fn(toTableChange(mapper, change)) : undefined;
  });
}

/** Throws a `KoyoDrizzleError` naming the argument of {@link onTable} that it cannot use. */
function checkArguments(
  dispatcher: unknown,
  table: unknown,
  options: OnTableOptions,
): asserts dispatcher is ChangeSource {
  if (!isChangeSource(dispatcher)) {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      'onTable(dispatcher, table, handler): dispatcher must be a @koyo/dispatcher dispatcher (from createDispatcher()).',
    );
  }
  if (!is(table, PgTable)) {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      'onTable(dispatcher, table, handler): table must be a Drizzle PostgreSQL table (from pgTable() or pgSchema().table()).',
    );
  }
  if (
    options.casing !== undefined &&
    options.casing !== 'snake_case' &&
    options.casing !== 'camelCase'
  ) {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      `onTable options.casing must be 'snake_case' or 'camelCase' (the casing given to drizzle()), got ${JSON.stringify(options.casing)}.`,
    );
  }
}

/** The handler functions of an {@link onTable} handler object, by change kind. */
type Handlers = Record<string, ((change: TableChange<unknown>) => HandlerResult) | undefined>;

/** Checks an {@link onTable} handler object (known kinds, functions, at least one) and returns it. */
function checkHandlers(label: string, handler: unknown): Handlers {
  if (handler === null || typeof handler !== 'object') {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      `${label}: handler must be a function or an object { insert, update, delete, truncate, snapshot } of functions.`,
    );
  }
  for (const key of Object.keys(handler)) {
    if (!(KINDS as readonly string[]).includes(key)) {
      throw new KoyoDrizzleError(
        'INVALID_ARGUMENT',
        `${label}: { ${key} } is not a change kind; use insert, update, delete, truncate or snapshot.`,
      );
    }
    if (
      typeof (handler as Record<string, unknown>)[key] !== 'function' &&
      (handler as Record<string, unknown>)[key] !== undefined
    ) {
      throw new KoyoDrizzleError(
        'INVALID_ARGUMENT',
        `${label}: handler.${key} must be a function.`,
      );
    }
  }
  const handlers = handler as Handlers;
  if (!KINDS.some((kind) => handlers[kind] !== undefined)) {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      `${label}: the handler object has no insert, update, delete, truncate or snapshot function.`,
    );
  }
  return handlers;
}

/**
 * Converts a dispatcher's change (column names, `pg` values) into a typed change of a Drizzle
 * table (property names, Drizzle values).
 *
 * @internal
 */
export function toTableChange(mapper: TableRowMapper, change: Change): TableChange<unknown> {
  const key = change.key === null ? null : mapper.mapRow(change.key);
  let id = change.id;
  if (change.key !== null && id !== null && id !== undefined) {
    const names = Object.keys(change.key);
    if (names.length === 1) id = mapper.mapValue(names[0]!, id);
  }
  const unchanged: string[] = [];
  for (const name of change.unchanged) {
    const key = mapper.keyOf(name);
    if (key !== undefined) unchanged.push(key);
  }
  return {
    kind: change.kind,
    schema: change.schema,
    table: change.table,
    key,
    id,
    new: change.new === null ? null : mapper.mapRow(change.new),
    old: change.old === null ? null : mapper.mapRow(change.old),
    unchanged,
    commitLsn: change.commitLsn,
    position: change.position,
    xid: change.xid,
    commitTime: change.commitTime,
  } as TableChange<unknown>;
}
