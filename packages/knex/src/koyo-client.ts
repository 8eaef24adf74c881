import type { Router } from '@koyo/router';
import type { Knex } from 'knex';
import {
  ClientPG,
  Runner,
  type KnexConnection,
  type KnexQueryObject,
  type PgClientLike,
  type RunnerLike,
} from './_knex-internals.js';
import { classifyBuilder } from './classify-builder.js';
import type { KnexBinding, TransactionConfig } from './knex-binding.js';
import { RoutedConnection } from './routed-connection.js';

/**
 * The key of the routed instance's {@link KnexBinding} in its client's `config`. Knex shares the
 * config object with the clients it derives (transactions, `withUserParams`), so every client of
 * one routed instance finds the same binding.
 *
 * @internal
 */
export const BINDING = Symbol('koyo.knex.binding');
/** @internal where `routerOf` finds the router of a client (also of a transaction's client). */
export const ROUTER = Symbol.for('koyo.knex.router');

function bindingOf(client: PgClientLike): KnexBinding {
  return (client.config as Record<symbol, unknown>)[BINDING] as KnexBinding;
}

/**
 * Knex's runner for the routed client: a builder that brings no connection of its own (no
 * transaction, no `.connection(conn)`) gets a {@link RoutedConnection}, and the node is chosen per
 * statement.
 */
class KoyoRunner extends Runner {
  override async ensureConnection(
    cb: (runner: RunnerLike, params: unknown) => unknown,
    params?: unknown,
  ): Promise<unknown> {
    if (
      this.builder._connection !== undefined ||
      this.connection !== undefined ||
      this.client.transacting === true
    ) {
      return super.ensureConnection(cb, params);
    }
    const conn = new RoutedConnection(classifyBuilder(this.builder));
    this.connection = conn.asConnection();
    try {
      return await cb(this, params);
    } finally {
      await this.client.releaseConnection(conn.asConnection());
    }
  }
}

/**
 * The routed instance's client: a subclass of Knex's PostgreSQL client (Knex's own extension
 * point, `client: KoyoClient`) that forwards acquiring, querying, streaming, cancelling and
 * transactions to its {@link KnexBinding}.
 *
 * @internal
 */
export class KoyoClient extends ClientPG {
  override runner(builder: unknown): unknown {
    return new KoyoRunner(this, builder);
  }

  override acquireConnection(): Promise<KnexConnection> {
    return bindingOf(this).acquire(this, () => super.acquireConnection());
  }

  override releaseConnection(connection: KnexConnection): Promise<void> {
    return bindingOf(this).release(connection);
  }

  override _query(connection: KnexConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    return bindingOf(this).query(connection, obj);
  }

  override _stream(
    connection: KnexConnection,
    obj: KnexQueryObject,
    stream: unknown,
    streamOptions: unknown,
  ): Promise<unknown> {
    return bindingOf(this).stream(connection, obj, stream, streamOptions);
  }

  override cancelQuery(connection: KnexConnection): Promise<unknown> {
    return bindingOf(this).cancel(connection);
  }

  /** @internal cancels with an unrouted statement on a fresh connection. */
  _wrappedCancelQueryCall(
    conn: KnexConnection,
    connectionToKill: KnexConnection,
  ): Promise<KnexQueryObject> {
    return bindingOf(this).rawQuery(conn, {
      sql: 'SELECT pg_cancel_backend($1);',
      bindings: [connectionToKill.processID],
      options: {},
    });
  }

  override transaction(
    container: (trx: Knex.Transaction) => unknown,
    config: TransactionConfig,
    outerTx: unknown,
  ): unknown {
    return bindingOf(this).transaction(this, container, config, outerTx, (wrapped) =>
      super.transaction(wrapped, config, outerTx),
    );
  }

  override async destroy(callback?: unknown): Promise<void> {
    const binding = bindingOf(this);
    if (this === binding.root) await binding.destroy();
    return super.destroy(callback);
  }

  /** The router of this routed instance (for `routerOf`). */
  get [ROUTER](): Router<Knex.Client> {
    return bindingOf(this).router;
  }
}
