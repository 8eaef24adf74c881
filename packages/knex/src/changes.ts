/**
 * `@koyo/knex/changes`: change handlers for Knex apps. {@link onTable} handles a table's
 * committed changes (from a `@koyo/dispatcher` dispatcher) with rows as Knex returns them.
 *
 * A subpath of its own so that routing-only installs of `@koyo/knex` need no replication package:
 * `@koyo/dispatcher` is an optional peer dependency, needed only by what imports this entry.
 *
 * @example
 * import { onTable } from '@koyo/knex/changes';
 *
 * @packageDocumentation
 */
export { onTable, type ChangeSource, type KnexTableRow, type OnTableOptions } from './on-table.js';
export type {
  Change,
  ChangeKind,
  DeleteChange,
  InsertChange,
  TableHandlers,
  TruncateChange,
  UpdateChange,
} from '@koyo/dispatcher';
