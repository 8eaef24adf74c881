import { driverNode, type RouteDecision, type Router, type RouterNode } from '@koyo/router';
import knexFactory, { type Knex } from 'knex';
import { ClientPG, type KnexConnection, type PgClientLike } from './_knex-internals.js';
import type { KnexDriver } from './knex-driver.js';
import type { NodeEntry } from './options.js';
import type { RoutedConnection } from './routed-connection.js';

/**
 * The nodes of one routed Knex instance and their pools: a plain Knex instance per node (every
 * node when following the primary, else the replicas; the one primary runs on the routed
 * instance's own pool), the node each connection checked out of a node's client came from, and
 * following a failover (a primary connection of the old node is given back and one of the new
 * node taken).
 *
 * @internal
 */
export class NodeClients {
  /** The plain Knex instance of each node's client. */
  readonly #knexOf = new Map<PgClientLike, Knex>();
  readonly #knexes: Knex[] = [];
  /** The node client each connection checked out with {@link NodeClients.pin} came from. */
  readonly #owners = new WeakMap<object, PgClientLike>();
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
  routerNode(
    driver: KnexDriver,
    entry: NodeEntry,
    fallbackName: string,
    primary: NodeEntry,
  ): RouterNode<Knex.Client> {
    const node = (client: PgClientLike, name: string): RouterNode<Knex.Client> =>
      driverNode(driver, name, client as unknown as Knex.Client, entry.weight);
    if (!this.following && entry === primary) return node(this.root, 'primary');
    const k = knexFactory({ ...entry.config, client: 'pg' });
    this.#knexes.push(k);
    const client = k.client as unknown as PgClientLike;
    this.#knexOf.set(client, k);
    return node(client, this.following ? (entry.given ?? fallbackName) : entry.name);
  }

  /** The plain Knex instance of a router handle. */
  knexOf(handle: Knex.Client): Knex {
    return this.#knexOf.get(handle as unknown as PgClientLike)!;
  }

  /** A connection of `client` (a node's plain client), remembered as its owner's. */
  async pin(client: PgClientLike): Promise<KnexConnection> {
    const connection = await client.acquireConnection();
    this.#owners.set(connection, client);
    return connection;
  }

  /** A connection of the primary; when following, of the current one (waiting out a failover). */
  acquirePrimary(): Promise<KnexConnection> {
    return this.following
      ? this.#router.withPrimary((client) => this.pin(client as unknown as PgClientLike))
      : ClientPG.prototype.acquireConnection.call(this.root);
  }

  /** The node client a connection from {@link NodeClients.pin} came from. */
  ownerOf(connection: KnexConnection): PgClientLike | undefined {
    return this.#owners.get(connection);
  }

  /** Gives a connection back to the pool it came from (the routed instance's by default). */
  release(connection: KnexConnection): Promise<void> {
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
      await this.release(held).catch(() => undefined);
    }
    return (conn.primary ??= await this.pin(client));
  }

  /** Ends every node's plain Knex. */
  async destroy(): Promise<void> {
    await Promise.all(this.#knexes.map((k) => k.destroy()));
  }

  /** After a bad router option: releases the pools created so far, the routed instance's too. */
  abandon(): void {
    void Promise.all([
      ClientPG.prototype.destroy.call(this.root),
      ...this.#knexes.map((k) => k.destroy()),
    ]).catch(() => undefined);
  }
}
