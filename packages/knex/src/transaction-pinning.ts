import type { Router } from '@koyo/router';
import type { Knex } from 'knex';
import type { KnexConnection, KnexQueryObject, PgClientLike } from './_knex-internals.js';
import { skippedResponse } from './routed-connection.js';

/**
 * A transaction bound in the routing context (the handle the router gets): statements of the outer
 * instance that the router sends into the transaction run on its connection while it is open.
 *
 * @internal
 */
export class TxHolder {
  trxClient: PgClientLike | undefined = undefined;
  transactor: { isCompleted(): boolean } | undefined = undefined;
  /** For read-only transactions on a replica: the node the connection came from. */
  node: { name: string; role: 'primary' | 'replica' } = { name: '', role: 'primary' };

  /** The open transaction's connection, or `undefined` once it completed. */
  connection(): Promise<KnexConnection> | undefined {
    if (
      this.trxClient === undefined ||
      this.transactor === undefined ||
      this.transactor.isCompleted()
    )
      return undefined;
    return this.trxClient.acquireConnection();
  }
}

/**
 * Primary connections used directly (Knex transactions, `.connection(conn)`): each statement runs
 * on its connection through the router (counted and logged as `pinned-connection`), which is told
 * whether the connection is inside a transaction, tracked from the statements' own
 * `BEGIN`/`COMMIT`/`ROLLBACK`.
 *
 * @internal
 */
export class PinnedConnections {
  readonly #states = new WeakMap<object, { inTransaction: boolean }>();

  constructor(
    readonly router: () => Router<Knex.Client>,
    readonly rawQuery: (
      connection: KnexConnection,
      obj: KnexQueryObject,
    ) => Promise<KnexQueryObject>,
  ) {}

  /** Runs `obj` on `connection` through the router. */
  query(connection: KnexConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    let state = this.#states.get(connection);
    if (state === undefined) {
      state = { inTransaction: false };
      this.#states.set(connection, state);
    }
    const st = state;
    return this.router().execute(
      obj.sql,
      async (d) => {
        const result = await this.rawQuery(connection, obj);
        const control =
          d.classification.command === 'MULTI' ? null : d.classification.transactionControl;
        if (control === 'begin') st.inTransaction = true;
        else if (control === 'commit' || control === 'rollback') st.inTransaction = false;
        return result;
      },
      { pinned: connection, inTransaction: st.inTransaction, skip: skippedResponse(obj) },
    );
  }

  /** Forgets a connection given back to its pool. */
  forget(connection: KnexConnection): void {
    this.#states.delete(connection);
  }
}
