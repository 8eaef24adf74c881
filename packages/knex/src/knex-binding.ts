import type { EventEmitter } from 'node:events';
import { readFromPrimary, runDecided, type RouteDecision, type Router } from '@koyo/router';
import type { Knex } from 'knex';
import {
  ClientPG,
  TransactionPG,
  type KnexConnection,
  type KnexQueryObject,
  type PgClientLike,
} from './_knex-internals.js';
import type { KnexDriver, KnexStatement } from './knex-driver.js';
import type { NodeClients } from './node-clients.js';
import type { ResolvedKnexOptions } from './options.js';
import { HANDLE_FORM } from './patch-knex-instance.js';
import { ReplicaTransactions } from './replica-transactions.js';
import { RoutedConnection, skippedResponse } from './routed-connection.js';
import { PinnedConnections, TxHolder } from './transaction-pinning.js';

/** A Knex transaction body. */
type Container = (trx: Knex.Transaction) => unknown;

/** The config Knex passes to `client.transaction`, with the handle-form mark. */
export type TransactionConfig = (Knex.TransactionConfig & { [HANDLE_FORM]?: boolean }) | undefined;

/**
 * What the routed Knex client does, for one routed instance: run a statement where the router
 * decides (a replica connection for a read, the builder's primary connection, an open transaction's
 * connection), run statements on pinned connections (transactions), stream, cancel, give
 * connections back, and open transactions (on the primary, on a replica when read-only, or without
 * BEGIN inside `skipTransactions`). `KoyoClient` only forwards Knex's calls here.
 *
 * @internal
 */
export class KnexBinding {
  // Set right after the routed instance and the router are built; no statement runs before.
  root!: PgClientLike;
  router!: Router<Knex.Client>;
  nodes!: NodeClients;
  driver!: KnexDriver;
  readonly pinned: PinnedConnections;
  readonly replicaTx: ReplicaTransactions;

  constructor(readonly options: ResolvedKnexOptions) {
    const router = (): Router<Knex.Client> => this.router;
    this.pinned = new PinnedConnections(router, (c, obj) => this.rawQuery(c, obj));
    this.replicaTx = new ReplicaTransactions(router, () => this.driver, options.router.logger);
  }

  /** Runs `obj` on `connection` as Knex's own pg client does (unrouted). */
  rawQuery(connection: KnexConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    return ClientPG.prototype._query.call(this.root, connection, obj);
  }

  /** `acquireConnection` of `client`: a connection of the current primary when following. */
  acquire(client: PgClientLike, own: () => Promise<KnexConnection>): Promise<KnexConnection> {
    // Transactions, `knex.connection(...)`: a connection of the current primary when following.
    if (this.options.following && client === this.root) return this.nodes.acquirePrimary();
    return own();
  }

  #releasePrimary(connection: KnexConnection): Promise<void> {
    this.pinned.forget(connection);
    return this.nodes.release(connection);
  }

  /** `releaseConnection`: a routed connection gives back its primary connection, if it took one. */
  release(connection: KnexConnection): Promise<void> {
    if (connection instanceof RoutedConnection) {
      if (connection.released) return Promise.resolve();
      connection.released = true;
      const primary = connection.primary;
      connection.primary = undefined;
      connection.active = undefined;
      if (primary === undefined) return Promise.resolve();
      if (connection.__knex__disposed !== undefined)
        primary.__knex__disposed = connection.__knex__disposed;
      return this.#releasePrimary(primary);
    }
    return this.replicaTx.release(connection) || this.#releasePrimary(connection);
  }

  /** `_query`: routed for a routed connection, else on the pinned connection. */
  query(connection: KnexConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    if (!obj.sql) return Promise.reject(new Error('The query is empty'));
    if (connection instanceof RoutedConnection) return this.#routedQuery(connection, obj);
    if (this.replicaTx.clientOf(connection) !== undefined) {
      const holder = this.replicaTx.current();
      if (holder !== undefined) this.replicaTx.log(holder, obj.sql);
      return this.rawQuery(connection, obj);
    }
    return this.pinned.query(connection, obj);
  }

  #routedQuery(conn: RoutedConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    const sql = obj.sql;
    const holder = this.replicaTx.current();
    if (holder !== undefined) {
      const pending = holder.connection();
      if (pending !== undefined) {
        return pending.then((connection) => {
          this.replicaTx.log(holder, sql);
          conn.active = { client: this.root, connection };
          return this.rawQuery(connection, obj);
        });
      }
    }
    const router = this.router;
    const exec = (client: PgClientLike, c: KnexConnection): Promise<KnexQueryObject> =>
      ClientPG.prototype._query.call(client, c, obj);
    const run = (): Promise<KnexQueryObject> =>
      router.execute(sql, (d) => this.#decided(conn, d, exec), { skip: skippedResponse(obj) });
    // The builder knows better than the SQL (schema introspection, migrations): primary.
    if (conn.hint?.role === 'write' && router.classify(sql).role === 'read')
      return readFromPrimary(run);
    return run();
  }

  /** Runs a statement of a routed connection where the router decided, through the driver contract. */
  #decided<R>(
    conn: RoutedConnection,
    decision: RouteDecision<Knex.Client>,
    exec: (client: PgClientLike, c: KnexConnection) => Promise<R>,
  ): Promise<R> {
    const statement: KnexStatement = { conn, decision, exec };
    return runDecided(this.driver, decision, statement, undefined) as Promise<R>;
  }

  /**
   * `_stream`: routed like a query, but never run twice once rows may have reached the consumer.
   * A failure before the stream started (a replica's connection could not be checked out) goes to
   * the next node like a read; if none takes it, it is emitted on the stream, where Knex expects
   * the client to have emitted it.
   */
  stream(
    connection: KnexConnection,
    obj: KnexQueryObject,
    stream: unknown,
    streamOptions: unknown,
  ): Promise<unknown> {
    let started = false;
    const streamOn = (client: PgClientLike, c: KnexConnection): Promise<unknown> => {
      const streaming = ClientPG.prototype._stream.call(client, c, obj, stream, streamOptions);
      started = true; // from here pg emits its errors on the stream itself
      return streaming;
    };
    if (!(connection instanceof RoutedConnection)) return streamOn(this.root, connection);
    const conn = connection;
    return this.router
      .execute(obj.sql, (d) => this.#decided(conn, d, streamOn), { started: () => started })
      .catch((error: unknown) => {
        if (!started) (stream as EventEmitter).emit('error', error);
        throw error;
      });
  }

  /** `cancelQuery`: on the node where the statement in flight runs. */
  cancel(connection: KnexConnection): Promise<unknown> {
    if (connection instanceof RoutedConnection) {
      const active = connection.active;
      if (active === undefined) return Promise.resolve();
      if (active.client !== this.root) return active.client.cancelQuery(active.connection);
      return this.nodes.cancelOnPrimary(active.connection);
    }
    const replica = this.replicaTx.clientOf(connection);
    if (replica !== undefined) return replica.cancelQuery(connection);
    return this.nodes.cancelOnPrimary(connection);
  }

  /**
   * `transaction`: without BEGIN inside `skipTransactions`; on a replica connection for a
   * read-only transaction with `readOnlyTransactions: 'replica'`; else Knex's own (`plain`) on the
   * primary, bound in the routing context so the outer instance routes into it.
   */
  transaction(
    client: PgClientLike,
    container: Container,
    config: TransactionConfig,
    outerTx: unknown,
    plain: (container: Container) => unknown,
  ): unknown {
    const router = this.router;
    let mode: 'run' | 'skip';
    try {
      mode = router.transactionMode();
    } catch (error) {
      return Promise.reject(error);
    }
    const root = this.root;
    if (mode === 'skip') {
      // No BEGIN/COMMIT: the body runs on a routed connection, so its reads may use replicas.
      const virtual = new RoutedConnection(undefined);
      const trx = new TransactionPG(
        root,
        container,
        { ...config, connection: virtual },
        outerTx,
      ) as PromiseLike<unknown>;
      const release = (): Promise<void> => root.releaseConnection(virtual.asConnection());
      void trx.then(release, release);
      return trx;
    }
    const holder = new TxHolder();
    const handleForm = config?.[HANDLE_FORM] === true;
    const wrapped: Container = (trx) => {
      holder.trxClient = trx.client;
      holder.transactor = trx;
      if (handleForm && router.attachTransaction(holder)) {
        const detach = (): void => router.detachTransaction(holder);
        trx.executionPromise.then(detach, detach);
      }
      return container(trx);
    };
    if (
      this.options.readOnlyTransactions === 'replica' &&
      config?.readOnly === true &&
      client.transacting !== true &&
      router.replicaHandles.length > 0
    ) {
      const acquirer = Object.create(root) as PgClientLike;
      acquirer.acquireConnection = () => this.replicaTx.acquire(holder);
      return this.replicaTx.run(
        holder,
        () => new TransactionPG(acquirer, wrapped, config, outerTx),
      );
    }
    return router.inTransaction(holder, () => plain(wrapped));
  }

  /** `destroy` of the routed instance: stops the router and ends every node's pools. */
  async destroy(): Promise<void> {
    this.router.close();
    await Promise.all([this.nodes.destroy(), this.driver.destroy()]);
  }
}
