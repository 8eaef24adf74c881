/**
 * `@koyo/drizzle/changes`: change handlers typed and valued like your Drizzle tables.
 * {@link onTable} registers them on a `@koyo/dispatcher` dispatcher; {@link drizzleTypeParsers}
 * keeps timestamps exact to the microsecond.
 *
 * A subpath of its own so that routing-only installs of `@koyo/drizzle` need no replication
 * package: `@koyo/dispatcher` is an optional peer dependency, needed only by what imports this entry.
 *
 * @example
 * import { onTable, drizzleTypeParsers } from '@koyo/drizzle/changes';
 *
 * @packageDocumentation
 */
export {
  onTable,
  type ChangeSource,
  type DeleteChange,
  type HandlerResult,
  type InsertChange,
  type SnapshotChange,
  type OnTableOptions,
  type RowKey,
  type TableChange,
  type TableChangeBase,
  type TableChangeHandlers,
  type TruncateChange,
  type UpdateChange,
} from './on-table.js';
export { drizzleTypeParsers } from './driver-values.js';
export type { ColumnCasing } from './table-rows.js';
