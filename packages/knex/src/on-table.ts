import {
  CHANGE_KINDS,
  isChangeSource,
  type Change,
  type ChangeHandler,
  type Dispatcher,
  type TableHandlers,
} from '@koyo/dispatcher';
import type { Knex } from 'knex';
import { KoyoKnexError } from './errors.js';

/**
 * The row type of a table name: from Knex's table registry (`declare module 'knex/types/tables'`)
 * when the table is declared there, else a plain record keyed by column name.
 */
export type KnexTableRow<TName extends string> = TName extends Knex.TableNames
  ? Knex.ResolveTableType<Knex.TableType<TName>>
  : Record<string, unknown>;

/** What {@link onTable} needs of a dispatcher: its `onTable` (a `@koyo/dispatcher` `Dispatcher`). */
export type ChangeSource = Pick<Dispatcher, 'onTable'>;

/** Options of {@link onTable}. */
export interface OnTableOptions {
  /**
   * The Knex instance the app reads the table with. When its config has `postProcessResponse`
   * (e.g. snake_case to camelCase), `new`, `old` and `key` go through it too, so a change row
   * still equals what that instance's `.first()` returns.
   */
  readonly knex?: Knex;
}

/**
 * Handles the committed changes of one table, by table name, with rows as Knex returns them: keys
 * are column names and values are parsed as `pg` parses them in a SELECT (the same parsers Knex
 * uses), so for a row with primary key `id`, `change.new` deep-equals
 * `await knex('users').where({ id }).first()` read right after the change. `handler` is one
 * function for every kind or `{ insert, update, delete, truncate, snapshot }` (`snapshot`: existing rows
 * from a backfill, typed like inserts; an object without it receives none). Returns an unsubscribe
 * function.
 *
 * Delivery is the dispatcher's: in commit order, at least once, acknowledged only after the
 * handler finished; `(change.commitLsn, change.position)` identifies a change across redeliveries.
 *
 * @example
 * import { createDispatcher } from '@koyo/dispatcher';
 * import { onTable } from '@koyo/knex/changes';
 *
 * const dispatcher = createDispatcher({ connection: process.env.DATABASE_URL!, slot: 'app', publication: 'app', tables: ['users'] });
 * onTable(dispatcher, 'users', {
 *   insert: async (change) => { await mailer.welcome(change.new.email); },
 *   delete: async (change) => { await search.remove('users', change.id); },
 * });
 * await dispatcher.start();
 */
export function onTable<TName extends string, Row = KnexTableRow<TName>>(
  dispatcher: ChangeSource,
  table: TName,
  handler: ChangeHandler<Row> | TableHandlers<Row>,
  options: OnTableOptions = {},
): () => void {
  if (!isChangeSource(dispatcher)) {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      'onTable: expected a dispatcher from createDispatcher() (@koyo/dispatcher) as the first argument.',
    );
  }
  if (typeof table !== 'string' || table.trim() === '') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `onTable: expected a table name like 'users' or 'public.users', got ${JSON.stringify(table)}.`,
    );
  }
  const kinds = CHANGE_KINDS;
  if (typeof handler !== 'function') {
    if (
      handler === null ||
      typeof handler !== 'object' ||
      !kinds.some((k) => typeof handler[k] === 'function')
    ) {
      throw new KoyoKnexError(
        'INVALID_OPTION',
        'onTable: expected a handler function or an object with insert, update, delete, truncate or snapshot handlers.',
      );
    }
  }
  const post = postProcessorOf(options.knex);
  if (post === undefined) return dispatcher.onTable<Row>(table, handler);
  // Rows are re-shaped, never nulled or filled: the change keeps its kind's shape.
  const map = <C extends Change<Row>>(change: C): C => ({
    ...change,
    key: change.key === null ? null : post(change.key),
    new: change.new === null ? null : post(change.new),
    old: change.old === null ? null : post(change.old),
  });
  if (typeof handler === 'function')
    return dispatcher.onTable<Row>(table, (change) => handler(map(change)));
  const mapped: Partial<Record<(typeof kinds)[number], ChangeHandler<Row>>> = {};
  for (const kind of kinds) {
    const h = handler[kind] as ChangeHandler<Row> | undefined;
    if (h !== undefined) mapped[kind] = (change) => h(map(change));
  }
  return dispatcher.onTable<Row>(table, mapped);
}

function postProcessorOf(knex: Knex | undefined): ((row: unknown) => unknown) | undefined {
  if (knex === undefined) return undefined;
  const client = (
    knex as {
      client?: { config?: { postProcessResponse?: unknown }; postProcessResponse?: unknown };
    }
  ).client;
  if (client === undefined || typeof client.postProcessResponse !== 'function') {
    throw new KoyoKnexError('INVALID_OPTION', 'onTable: options.knex must be a Knex instance.');
  }
  if (typeof client.config?.postProcessResponse !== 'function') return undefined;
  const post = client.postProcessResponse as (response: unknown, queryContext: unknown) => unknown;
  return (row) => post.call(client, row, undefined);
}
