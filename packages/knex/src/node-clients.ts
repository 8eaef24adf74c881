import type { RouteDecision, Router, RouterNode } from '@koyo/router';
import knexFactory, { type Knex } from 'knex';
import type pg from 'pg';
import { ClientPG, type KnexConnection, type PgClientLike } from './_knex-internals.js';
import type { NodeEntry } from './options.js';
import { probePool } from './probe-pool.js';
import type { RoutedConnection } from './routed-connection.js';

/**
 * The nodes of one routed Knex instance and their pools: a plain Knex instance per node (every
 * node when following the primary, else the replicas; the one primary runs on the routed
 * instance's own pool), the node each checked-out primary connection came from, the probe pools,
 * and following a failover (a primary connection of the old node is given back and one of the new
 * node taken).
 *
 * @internal
 */
export class NodeClients {
  /** The plain Knex instance of each node's client. */
  readonly #knexOf = new Map<PgClientLike, Knex>();
  readonly #knexes: Knex[] = [];
  /** When following: the node client each checked-out primary connection came from. */
  readonly #owners = new WeakMap<object, PgClientLike>();
  readonly #probePools: pg.Pool[] = [];
  // Set right after the router is built; no statement can run before.
  #router!: Router<Knex.Client>;

  constructor(
    /** The routed instance's own client (its pool is the primary's unless following). */
    readonly root: PgClientLike,
    /** Following the primary: every node has its own plain Knex. */
    readonly following: boolean,
  ) {}

  /** The router that decides over these nodes (set once, right after it is built). */
  attach(router: Router<Knex.Client>): void {
    this.#router = router;
  }

  /** The router node of `entry`: on the routed instance's pool for the one primary, else its own. */
  routerNode(entry: NodeEntry, fallbackName: string, primary: NodeEntry): RouterNode<Knex.Client> {
    if (!this.following && entry === primary) return this.#node(entry, this.root, 'primary');
    const k = knexFactory({ ...entry.config, client: 'pg' });
    this.#knexes.push(k);
    const client = k.client as unknown as PgClientLike;
    this.#knexOf.set(client, k);
    return this.#node(entry, client, this.following ? (entry.given ?? fallbackName) : entry.name);
  }

  #node(entry: NodeEntry, client: PgClientLike, name: string): RouterNode<Knex.Client> {
    let pool: Promise<pg.Pool> | undefined;
    return {
      name,
      handle: client as unknown as Knex.Client,
      ...(entry.weight === undefined ? {} : { weight: entry.weight }),
      probe: async (sql) => {
        pool ??= probePool(client, this.#probePools);
        const result = await (await pool).query({ text: sql, rowMode: 'array' });
        const value = (result.rows[0] as unknown[] | undefined)?.[0];
        return value === null || value === undefined ? null : String(value);
      },
    };
  }

  /** The plain Knex instance of a router handle. */
  knexOf(handle: Knex.Client): Knex {
    return this.#knexOf.get(handle as unknown as PgClientLike)!;
  }

  /** A connection of `client` (a node's plain client), remembered as its owner's. */
  async #acquireFrom(client: PgClientLike): Promise<KnexConnection> {
    const connection = await client.acquireConnection();
    this.#owners.set(connection, client);
    return connection;
  }

  /** A connection of the primary; when following, of the current one (waiting out a failover). */
  acquirePrimary(): Promise<KnexConnection> {
    return this.following
      ? this.#router.withPrimary((client) => this.#acquireFrom(client as unknown as PgClientLike))
      : ClientPG.prototype.acquireConnection.call(this.root);
  }

  /** Gives a primary connection back to the pool it came from. */
  releasePrimary(connection: KnexConnection): Promise<void> {
    const owner = this.#owners.get(connection);
    if (owner !== undefined) {
      this.#owners.delete(connection);
      return owner.releaseConnection(connection);
    }
    return ClientPG.prototype.releaseConnection.call(this.root, connection);
  }

  /** Cancels the statement running on a primary connection, through the pool it came from. */
  cancelOnPrimary(connection: KnexConnection): Promise<unknown> {
    const owner = this.#owners.get(connection);
    if (owner !== undefined) return owner.cancelQuery(connection);
    return ClientPG.prototype.cancelQuery.call(this.root, connection);
  }

  /**
   * The routed connection's primary connection for decision `d`: after a failover (a statement run
   * again on the new primary) the old node's connection is given back and one of the new node taken.
   */
  async primaryFor(conn: RoutedConnection, d: RouteDecision<Knex.Client>): Promise<KnexConnection> {
    if (!this.following) return (conn.primary ??= await this.acquirePrimary());
    const client = d.handle as unknown as PgClientLike;
    const held = conn.primary;
    if (held !== undefined && this.#owners.get(held) !== client) {
      conn.primary = undefined;
      await this.releasePrimary(held).catch(() => undefined);
    }
    return (conn.primary ??= await this.#acquireFrom(client));
  }

  /** Ends every node's plain Knex and the probe pools. */
  async destroy(): Promise<void> {
    await Promise.all([
      ...this.#knexes.map((k) => k.destroy()),
      ...this.#probePools.splice(0).map((p) => p.end()),
    ]);
  }

  /** After a bad router option: releases the pools created so far, the routed instance's too. */
  abandon(): void {
    void Promise.all([
      ClientPG.prototype.destroy.call(this.root),
      ...this.#knexes.map((k) => k.destroy()),
    ]).catch(() => undefined);
  }
}
