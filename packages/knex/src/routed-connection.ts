import type { BuilderClassification } from './classify-builder.js';
import type { KnexConnection, KnexQueryObject, PgClientLike } from './_knex-internals.js';

let uid = 0;

/**
 * A connection handed to Knex's runner for one builder: the real node is chosen per statement
 * (a replica connection per read, the primary connection bound on the first statement that goes
 * to the primary).
 *
 * @internal
 */
export class RoutedConnection {
  readonly __knexUid = `__koyoRouted${++uid}`;
  __knexTxId: string | undefined = undefined;
  __knex__disposed: unknown = undefined;
  /** The primary connection bound on the first statement that went to the primary. */
  primary: KnexConnection | undefined = undefined;
  /** Where the statement in flight runs (for `cancelQuery`). */
  active: { client: PgClientLike; connection: KnexConnection } | undefined = undefined;
  released = false;
  constructor(readonly hint: BuilderClassification | undefined) {}

  /** As Knex's runner passes it around. */
  asConnection(): KnexConnection {
    return this as unknown as KnexConnection;
  }
}

/**
 * The response of a statement the router skipped (`BEGIN`/`COMMIT` inside `skipTransactions`):
 * an empty result of the statement's command.
 *
 * @internal
 */
export const skippedResponse = (obj: KnexQueryObject) => (): KnexQueryObject => {
  obj.response = {
    command: obj.sql
      .trim()
      .split(/[\s;]+/, 1)[0]!
      .toUpperCase(),
    rowCount: null,
    oid: 0,
    rows: [],
    fields: [],
  };
  return obj;
};
