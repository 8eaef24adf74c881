import { probePg, type RouteDecision, type RouterDriver } from '@koyo/router';
import type { Knex } from 'knex';
import type pg from 'pg';
import type { KnexConnection, PgClientLike } from './_knex-internals.js';
import type { NodeClients } from './node-clients.js';
import { probePool } from './probe-pool.js';
import type { RoutedConnection } from './routed-connection.js';
import { TxHolder } from './transaction-pinning.js';

/**
 * One statement of a routed runner (a query or a stream): the routed connection it binds a primary
 * connection to, the router's decision, and how it runs on a node's client and connection.
 *
 * @internal
 */
export interface KnexStatement {
  readonly conn: RoutedConnection;
  readonly decision: RouteDecision<Knex.Client>;
  exec(client: PgClientLike, connection: KnexConnection): Promise<unknown>;
}

/**
 * Knex's side of the router's driver contract: a node is a Knex client, a pinned connection one of
 * its connections (or an open transaction bound in the routing context), a statement a
 * {@link KnexStatement}. A read on a replica takes a connection for that statement only; a
 * statement on the primary runs on the routed connection's primary connection (bound on first
 * use). Probes run on a one-connection pool per node, through the core's node-postgres probe.
 *
 * @internal
 */
export class KnexDriver implements RouterDriver<
  Knex.Client,
  KnexConnection | TxHolder,
  KnexStatement,
  unknown
> {
  readonly #probePools = new Map<PgClientLike, Promise<pg.Pool>>();
  readonly #ended: pg.Pool[] = [];

  constructor(
    /** The routed instance's own client: primary and transaction statements run through it. */
    readonly root: PgClientLike,
    readonly nodes: NodeClients,
  ) {}

  async run(target: Knex.Client | KnexConnection | TxHolder, st: KnexStatement): Promise<unknown> {
    if (target instanceof TxHolder) {
      const pending = target.connection();
      if (pending !== undefined) return this.#on(st, this.root, await pending);
      // The transaction completed while this statement was on its way: its writes are committed,
      // so the primary (outside any transaction) sees them.
    } else if (st.decision.target === 'replica') {
      const client = target as unknown as PgClientLike;
      const connection = await this.pin(target as Knex.Client);
      try {
        return await this.#on(st, client, connection);
      } finally {
        if (st.conn.__knex__disposed !== undefined)
          connection.__knex__disposed = st.conn.__knex__disposed;
        await this.unpin(connection);
      }
    }
    return this.#on(st, this.root, await this.nodes.primaryFor(st.conn, st.decision));
  }

  /** Runs `st` on `connection`, noted as the routed connection's active one (for cancelling). */
  #on(st: KnexStatement, client: PgClientLike, connection: KnexConnection): Promise<unknown> {
    st.conn.active = { client, connection };
    return st.exec(client, connection);
  }

  probe(handle: Knex.Client, sql: string): Promise<string | null> {
    const client = handle as unknown as PgClientLike;
    let pool = this.#probePools.get(client);
    if (pool === undefined) {
      pool = probePool(client, this.#ended);
      this.#probePools.set(client, pool);
    }
    return pool.then((p) => probePg(p, sql));
  }

  /** A connection of a node's client, remembered as its owner's (see {@link NodeClients.ownerOf}). */
  pin(handle: Knex.Client): Promise<KnexConnection> {
    return this.nodes.pin(handle as unknown as PgClientLike);
  }

  /** Gives a connection from {@link KnexDriver.pin} back to its client's pool. */
  unpin(connection: KnexConnection | TxHolder): Promise<void> {
    return this.nodes.release(connection);
  }

  /** Ends the probe pools. */
  async destroy(): Promise<void> {
    await Promise.all(this.#ended.splice(0).map((p) => p.end()));
  }
}
