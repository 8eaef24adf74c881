/**
 * `@koyo/drizzle`: Drizzle ORM bindings for koyo. {@link withRouting} makes a Drizzle database
 * that routes each executed statement (reads to replicas; writes, locks and transactions to the
 * primary); {@link onTable} registers change handlers typed and valued like a Drizzle table.
 *
 * @packageDocumentation
 */
export { withRouting, type AnyPgDatabase, type RoutedDatabase, type WithRoutingOptions } from './with-routing.js';
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
export { KoyoDrizzleError, type KoyoDrizzleErrorCode } from './errors.js';
export { readFromPrimary, readFromReplica, skipTransactions, blockTransactions, withSession } from '@koyo/router';
