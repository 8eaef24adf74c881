import { createRouter, driverNode, nodeSet, type Router, type RouterOptions } from '@koyo/router';
import type { PgDatabase, PgDialect, PgSession } from 'drizzle-orm/pg-core';
import { drizzleDriver, sessionOf } from './drizzle-driver.js';
import { driverOf } from './drivers.js';
import { KoyoDrizzleError } from './errors.js';
import { RoutingCore, RoutingSession, type DrizzleSchemaConfig } from './routing-session.js';

/**
 * Any Drizzle PostgreSQL database (`drizzle()` of `drizzle-orm/node-postgres` or `drizzle-orm/postgres-js`).
 *
 * @example
 * function report(db: AnyPgDatabase) { return db.select().from(users); }
 */
export type AnyPgDatabase = PgDatabase<any, any, any>;

/**
 * A database returned by {@link withRouting}: the same Drizzle database type as the primary (a real
 * instance of its class), plus explicit handles.
 *
 * @example
 * const db: RoutedDatabase<NodePgDatabase<typeof schema>> = withRouting(primaryDb, [replicaDb]);
 * await db.$primary.select().from(users); // always the primary, unrouted
 * db.$router.stats();
 */
export type RoutedDatabase<
  TDatabase extends AnyPgDatabase,
  TReplica extends AnyPgDatabase = TDatabase,
> = TDatabase & {
  /**
   * The primary database as given: every statement through it runs on the primary, unrouted. When
   * following the primary (a list of candidates or `discover`): the current primary's database.
   */
  readonly $primary: TDatabase;
  /**
   * The replica databases as given: statements through them run on that replica, unrouted. When
   * following the primary: the current replica set.
   */
  readonly $replicas: readonly TReplica[];
  /**
   * The `@koyo/router` core deciding each statement: `explain(sql)`, `stats()`,
   * `readYourWritesToken()`, `withToken()`, `probe()`, `replicaStatus()`, `close()`.
   */
  readonly $router: Router<PgSession>;
};

/**
 * Options of {@link withRouting}: every `@koyo/router` option (`strategy`, `maxLag`,
 * `readYourWrites`, `fallback`, `logger`, `ejectMs`, `probeIntervalMs`, `defaultRole`,
 * `ignoreTransactions`, `volatileFunctions`, following the primary with `discover` and
 * `failoverMs`, ...) plus node names and weights.
 *
 * @example
 * const options: WithRoutingOptions = { strategy: 'weighted', replicaNames: ['eu-1', 'eu-2'], replicaWeights: [3, 1], logger: console.log };
 */
export interface WithRoutingOptions extends RouterOptions {
  /**
   * Name of the primary in logs, reasons and stats. Default `'primary'` (when following the
   * primary: the first candidate's name, default `node1`).
   */
  readonly primaryName?: string;
  /** Names of the replicas, in order. Default `replica1`, `replica2`, ... (when following the primary: `node2`, ...). */
  readonly replicaNames?: readonly string[];
  /** Weights of the replicas for the `weighted` strategy, in order. Default 1 each. */
  readonly replicaWeights?: readonly number[];
}

/**
 * Makes a Drizzle database that sends reads to replicas and everything else to the primary,
 * deciding per executed statement: the call shape of Drizzle's `withReplicas`, the options of
 * `@koyo/router`. The result is a real database of the primary's class (`instanceof`
 * `NodePgDatabase` / `PostgresJsDatabase` and Drizzle's `is()` hold) whose session routes, so
 * `select`, `selectDistinct(On)`, `$count`, `with`/`$with`, `db.query.*`, `execute`, prepared
 * statements and methods Drizzle adds later go where the SQL they run belongs: provable reads to a
 * healthy replica; `FOR UPDATE`/`FOR SHARE`, writable CTEs, `insert`/`update`/`delete`,
 * `refreshMaterializedView`, writes through `execute` and volatile functions to the primary.
 * `db.transaction(fn)` runs on the primary, and inside `fn` the outer `db` runs on the same
 * transaction (nested `db.transaction` calls become savepoints).
 *
 * The databases must use the same driver and be built with the same `schema` and `casing`.
 * Closing the clients stays yours; `db.$router.close()` stops the router's probes.
 *
 * Following the primary: give a list of candidate databases as `primaryDb`, or `discover: true`
 * (every database given is a candidate); the router uses the one where `pg_is_in_recovery()` is
 * false and, after a failover, sends writes and `db.transaction` to the promoted node (see the
 * router's `discover` and `failoverMs`).
 *
 * @example
 * import { drizzle } from 'drizzle-orm/node-postgres';
 * import { withRouting } from '@koyo/drizzle';
 *
 * const db = withRouting(drizzle(process.env.DATABASE_URL!, { schema }), [drizzle(process.env.REPLICA_URL!, { schema })], {
 *   maxLag: { bytes: 16 * 1024 * 1024 },
 *   readYourWrites: { mode: 'lsn' },
 * });
 * await db.select().from(users);                              // a replica
 * await db.select().from(users).for('update');                // the primary
 * await db.transaction(async (tx) => {
 *   await tx.insert(users).values({ name: 'Ada' });
 *   await db.$count(users);                                   // the same transaction
 * });
 */
export function withRouting<
  TDatabase extends AnyPgDatabase,
  TReplica extends AnyPgDatabase = TDatabase,
>(
  primaryDb: TDatabase | readonly TDatabase[],
  replicaDbs: readonly TReplica[],
  options: WithRoutingOptions = {},
): RoutedDatabase<TDatabase, TReplica> {
  const list = Array.isArray(primaryDb);
  const candidates: readonly TDatabase[] = list
    ? (primaryDb as readonly TDatabase[])
    : [primaryDb as TDatabase];
  if (candidates.length === 0) {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      'withRouting(primaryDb, replicaDbs, options): the list of primary candidates is empty.',
    );
  }
  const firstDb = candidates[0]!;
  const driver = driverOf(firstDb, list ? 'primaryDb[0]' : 'primaryDb');
  candidates.slice(1).forEach((candidate, i) => {
    if (driverOf(candidate, `primaryDb[${i + 1}]`) !== driver) {
      throw new KoyoDrizzleError(
        'UNSUPPORTED_DRIVER',
        `withRouting: primaryDb[${i + 1}] uses another driver than primaryDb[0]; use one driver for every node.`,
      );
    }
  });
  if (!Array.isArray(replicaDbs)) {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      'withRouting(primaryDb, replicaDbs, options): replicaDbs must be an array of Drizzle databases (it may be empty).',
    );
  }
  replicaDbs.forEach((replica, i) => {
    const replicaDriver = driverOf(replica, `replicaDbs[${i}]`);
    if (replicaDriver !== driver) {
      throw new KoyoDrizzleError(
        'UNSUPPORTED_DRIVER',
        `withRouting: replicaDbs[${i}] uses drizzle-orm/${replicaDriver} but primaryDb uses drizzle-orm/${driver}; use one driver for every node (results differ in shape between drivers).`,
      );
    }
  });
  if (options === null || typeof options !== 'object') {
    throw new KoyoDrizzleError(
      'INVALID_ARGUMENT',
      'withRouting(primaryDb, replicaDbs, options): options must be an object.',
    );
  }
  const { primaryName, replicaNames, replicaWeights, ...routerOptions } = options;
  // Names and weights given, by database (a database given twice is one node).
  const names = new Map<AnyPgDatabase, string>();
  const weights = new Map<AnyPgDatabase, number>();
  replicaDbs.forEach((db, i) => {
    const name = replicaNames?.[i];
    if (name !== undefined) names.set(db, name);
    const weight = replicaWeights?.[i];
    if (weight !== undefined) weights.set(db, weight);
  });
  if (primaryName !== undefined) names.set(firstDb, primaryName);
  /** The database of each node's session (for `$primary` and `$replicas` after a failover). */
  const dbOf = new Map<PgSession, AnyPgDatabase>();
  const routerDriver = drizzleDriver(driver, (session) =>
    Reflect.get(dbOf.get(session)!, '$client'),
  );
  const nodes = nodeSet<AnyPgDatabase, PgSession>(
    list ? candidates : firstDb,
    replicaDbs,
    routerOptions.discover,
    (db) => db,
    (db, fallbackName) => {
      dbOf.set(sessionOf(db), db);
      // The primary is never weighted (as before); a replica given as a candidate keeps its weight.
      return driverNode(
        routerDriver,
        names.get(db) ?? fallbackName,
        sessionOf(db),
        weights.get(db),
      );
    },
  );
  const router = createRouter<PgSession>({
    ...routerOptions,
    primary: nodes.primary,
    replicas: nodes.replicas,
  });
  const internals = firstDb as unknown as {
    dialect: PgDialect;
    _: {
      schema: unknown;
      fullSchema: Record<string, unknown>;
      tableNamesMap: Record<string, string>;
    };
  };
  const dialect = internals.dialect;
  const schema = (
    internals._.schema === undefined
      ? undefined
      : {
          fullSchema: internals._.fullSchema,
          schema: internals._.schema,
          tableNamesMap: internals._.tableNamesMap,
        }
  ) as DrizzleSchemaConfig;
  const core = new RoutingCore(router, routerDriver, sessionOf(firstDb), dialect);
  const session = new RoutingSession(core, dialect, schema);
  const Database = firstDb.constructor as new (
    dialect: PgDialect,
    session: PgSession,
    schema: DrizzleSchemaConfig,
  ) => TDatabase;
  const db = new Database(dialect, session, schema);
  const writable = db as unknown as Record<string, unknown>;
  writable['$client'] = (firstDb as unknown as Record<string, unknown>)['$client'];
  writable['$cache'] = (firstDb as unknown as Record<string, unknown>)['$cache'];
  // Builders take `db.session` (and relational builders their own `session`) when created: hand
  // them the session bound to the context they are created in.
  const bound = { configurable: true, enumerable: false, get: () => session.bound() };
  Object.defineProperty(db, 'session', bound);
  for (const builder of Object.values((db as unknown as { query: Record<string, object> }).query))
    Object.defineProperty(builder, 'session', bound);
  if (nodes.following) {
    Object.defineProperties(db, {
      $primary: { get: () => dbOf.get(router.primaryHandle), enumerable: false },
      $replicas: {
        get: () => Object.freeze(router.replicaHandles.map((h) => dbOf.get(h))),
        enumerable: false,
      },
    });
  } else {
    Object.defineProperties(db, {
      $primary: { value: firstDb, enumerable: false },
      $replicas: { value: Object.freeze([...replicaDbs]), enumerable: false },
    });
  }
  Object.defineProperty(db, '$router', { value: router, enumerable: false });
  return db as unknown as RoutedDatabase<TDatabase, TReplica>;
}
