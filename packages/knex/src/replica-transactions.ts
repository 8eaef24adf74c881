import { AsyncLocalStorage } from 'node:async_hooks';
import type { Router, RouterOptions } from '@koyo/router';
import type { Knex } from 'knex';
import type { KnexConnection, PgClientLike } from './_knex-internals.js';
import type { KnexDriver } from './knex-driver.js';
import type { TxHolder } from './transaction-pinning.js';

/**
 * Read-only transactions on a replica (`readOnlyTransactions: 'replica'`): the replica is picked
 * like a read, the whole transaction runs on one of its connections, and the outer instance routes
 * into it while it runs (its holder is in an `AsyncLocalStorage`).
 *
 * @internal
 */
export class ReplicaTransactions {
  readonly #current = new AsyncLocalStorage<TxHolder>();
  /** Connections pinned on a replica for a read-only transaction. */
  readonly #connections = new WeakSet<object>();

  constructor(
    readonly router: () => Router<Knex.Client>,
    readonly driver: () => KnexDriver,
    readonly logger: RouterOptions['logger'],
  ) {}

  /** The read-only transaction of the current async context, if any. */
  current(): TxHolder | undefined {
    return this.#current.getStore();
  }

  /** Runs `fn` with `holder` as the current read-only transaction. */
  run<R>(holder: TxHolder, fn: () => R): R {
    return this.#current.run(holder, fn);
  }

  /** The replica client of a connection checked out for a read-only transaction, if it is one. */
  clientOf(connection: KnexConnection): PgClientLike | undefined {
    return this.#connections.has(connection) ? this.driver().nodes.ownerOf(connection) : undefined;
  }

  /** Gives a replica connection back; `false` when `connection` is not one. */
  release(connection: KnexConnection): Promise<void> | false {
    if (!this.#connections.delete(connection)) return false;
    return this.driver().unpin(connection);
  }

  /** Logs a statement of a read-only transaction (the router does not see it). */
  log(holder: TxHolder, sql: string): void {
    if (this.logger === undefined) return;
    const role = holder.node.role;
    this.logger(
      `${role === 'replica' ? 'Replica' : 'Primary'}: ${holder.node.name} (read-only-transaction) ${sql}`,
      {
        event: 'query',
        node: holder.node.name,
        role,
        reason: 'read-only-transaction',
        sql,
        error: undefined,
      },
    );
  }

  /** Picks where a read-only transaction runs (like a read) and checks out a connection there. */
  async acquire(holder: TxHolder): Promise<KnexConnection> {
    const router = this.router();
    for (let attempt = 0; attempt < 2; attempt++) {
      const d = await router.route('SELECT 1');
      if (d.target !== 'replica') break;
      try {
        const connection = await this.driver().pin(d.handle!);
        this.#connections.add(connection);
        holder.node = { name: d.node, role: 'replica' };
        return connection;
      } catch (error) {
        router.reportConnectionError(d.replica, error);
        if (attempt === 1) throw error;
      }
    }
    holder.node = { name: router.primaryName, role: 'primary' };
    return this.driver().nodes.acquirePrimary();
  }
}
