import { nodeSet, Router } from '@koyo/router';
import knexFactory, { type Knex } from 'knex';
import type { PgClientLike } from './_knex-internals.js';
import { KnexBinding } from './knex-binding.js';
import { KnexDriver } from './knex-driver.js';
import { BINDING, KoyoClient } from './koyo-client.js';
import { NodeClients } from './node-clients.js';
import {
  nodeIdentity,
  resolveRoutedKnexOptions,
  type NodeEntry,
  type RoutedKnexOptions,
} from './options.js';
import { patchKnexInstance } from './patch-knex-instance.js';

export { explain, routerOf } from './explain.js';
export type { KnexNodeConfig, RoutedKnexOptions } from './options.js';

/**
 * A routed Knex instance: a real `Knex` (client `pg`) plus the routing core and the replicas'
 * plain Knex instances.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Knex's own constraint
export type RoutedKnex<TRecord extends {} = any, TResult = unknown[]> = Knex<TRecord, TResult> & {
  /** The routing core: `explain`, `stats`, `readYourWritesToken`, `withToken`, `probe`, `replicaStatus`. */
  readonly router: Router<Knex.Client>;
  /**
   * Plain (unrouted) Knex instances of the replicas, in configuration order, e.g. for diagnostics
   * (when following the primary: the current replica set, read again after a failover).
   */
  readonly replicas: readonly Knex[];
};

/**
 * Creates a routed Knex instance over a primary and its streaming replicas. It is a real Knex
 * instance (`client: 'pg'`, a subclass of Knex's PostgreSQL client), so query builders, `knex.raw`,
 * `knex.schema`, migrations, seeds and plugins work unchanged. Each statement is routed when it
 * runs: provable reads to a healthy replica, everything else (writes, row locks, writable CTEs,
 * volatile functions, schema builder, migrations, transactions) to the primary. Scopes from
 * `@koyo/router` (`readFromPrimary`, `readFromReplica`, `skipTransactions`, `blockTransactions`,
 * `withSession`), read-your-writes, the lag bound and replica failover apply.
 *
 * @example
 * import { routedKnex } from '@koyo/knex';
 *
 * const knex = routedKnex({
 *   primary: { client: 'pg', connection: process.env.DATABASE_URL, pool: { max: 10 } },
 *   replicas: [{ client: 'pg', connection: process.env.REPLICA_URL }],
 *   readYourWrites: { mode: 'lsn', waitMs: 200 },
 * });
 * await knex('users').where({ id: 1 }).first();     // a replica
 * await knex('users').insert({ id: 2, name: 'Ada' }); // the primary
 * await knex.transaction(async (trx) => {            // the primary, also for `knex(...)` inside
 *   await trx('users').where({ id: 2 }).forUpdate().first();
 * });
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Knex's own constraint
export function routedKnex<TRecord extends {} = any, TResult = unknown[]>(
  options: RoutedKnexOptions,
): RoutedKnex<TRecord, TResult> {
  const resolved = resolveRoutedKnexOptions(options);
  const { primary, following } = resolved;
  const binding = new KnexBinding(resolved);
  const instance = knexFactory({
    ...primary.config,
    client: KoyoClient as unknown as typeof Knex.Client,
    [BINDING]: binding,
  } as Knex.Config) as unknown as Knex;
  const root = instance.client as unknown as PgClientLike;
  binding.root = root;
  // Plugins that look at the configured client name see a PostgreSQL client.
  root.config.client = typeof primary.config.client === 'string' ? primary.config.client : 'pg';

  const nodes = (binding.nodes = new NodeClients(root, following));
  const driver = (binding.driver = new KnexDriver(root, nodes));
  let router: Router<Knex.Client>;
  try {
    const set = nodeSet<NodeEntry, Knex.Client>(
      resolved.list ? resolved.candidates : primary,
      resolved.replicas,
      options.discover,
      nodeIdentity,
      (entry, fallbackName) => nodes.routerNode(driver, entry, fallbackName, primary),
    );
    router = new Router<Knex.Client>({
      ...options,
      primary: set.primary,
      replicas: set.replicas,
    });
  } catch (error) {
    // A bad router option: release the pools created above before reporting it.
    nodes.abandon();
    throw error;
  }
  binding.router = router;
  nodes.attach(router);

  patchKnexInstance(instance);
  Object.defineProperty(instance, 'router', { value: router, enumerable: false });
  const fixedReplicas = Object.freeze(router.replicaHandles.map((h) => nodes.knexOf(h)));
  Object.defineProperty(instance, 'replicas', {
    get: following
      ? () => Object.freeze(router.replicaHandles.map((h) => nodes.knexOf(h)))
      : () => fixedReplicas,
    enumerable: false,
  });
  return instance as RoutedKnex<TRecord, TResult>;
}
