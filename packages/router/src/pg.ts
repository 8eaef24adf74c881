/**
 * `@koyo/router/pg`: a routed `pg.Pool` for node-postgres.
 *
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import pg from 'pg';
import { assertConnectionString } from './connection-string.js';
import { KoyoRouterError } from './errors.js';
import { runDecided } from './driver.js';
import { routerOverInputs, urlIdentity, type OpenedNode } from './node-set.js';
import { pgDriver, routeQueryCall } from './pg-driver.js';
import { connectPinned, pinnedState, skippedStatement } from './pg-pinned-client.js';
import type { ExecuteOptions, Router, RouterOptions } from './router.js';

/** A node given as a connection string, a `pg.PoolConfig` (with an optional name and weight), or your own `pg.Pool`. */
export type PgNodeInput =
  string | (pg.PoolConfig & { readonly name?: string; readonly weight?: number }) | pg.Pool;

/** Options of {@link createRoutedPool}: the nodes, pool settings, and every {@link RouterOptions router option}. */
export interface RoutedPoolOptions extends RouterOptions {
  /**
   * The primary (takes writes, transactions, pinned clients), or a list of candidates: the router
   * uses the one where `pg_is_in_recovery()` is false and follows a failover (see `discover`,
   * `failoverMs`).
   */
  readonly primary: PgNodeInput | readonly PgNodeInput[];
  /** Streaming replicas that may take reads. May be empty. */
  readonly replicas?: readonly PgNodeInput[];
  /** `pg.PoolConfig` applied to every pool the router creates (e.g. `{ max: 10 }`). */
  readonly pool?: pg.PoolConfig;
}

/** A routed pool client: a real `pg.PoolClient` checked out from the primary. */
export type RoutedPoolClient = pg.PoolClient;

/**
 * A `pg.Pool` that routes: `query` sends provable reads to a healthy replica and everything else
 * to the primary, follows the routing context (scopes, transactions, read-your-writes), and
 * `connect()` returns a client of the primary (the caller may open a transaction on it). It is a
 * subclass of `pg.Pool`, so libraries that take a pool (Drizzle's node-postgres driver, ...) use
 * it unchanged. Events (`connect`, `acquire`, `release`, `remove`, `error`) of every underlying
 * pool are re-emitted on it.
 */
export class RoutedPool extends pg.Pool {
  /** The routing core (explain, stats, tokens, probes). */
  readonly router: Router<pg.Pool>;
  /** The primary's pool (after a failover: the new primary's). */
  declare readonly primaryPool: pg.Pool;
  /** The replicas' pools, in order (after a failover: the current replica set). */
  declare readonly replicaPools: readonly pg.Pool[];

  constructor(options: RoutedPoolOptions) {
    if (options === null || typeof options !== 'object') {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        'createRoutedPool: expected options { primary, replicas }.',
      );
    }
    const candidates: readonly PgNodeInput[] = Array.isArray(options.primary)
      ? options.primary
      : [options.primary as PgNodeInput];
    if (options.primary === undefined || candidates.length === 0)
      throw new KoyoRouterError(
        'INVALID_OPTION',
        'primary: required (a connection string, a pg.PoolConfig or a pg.Pool, or a list of them).',
      );
    candidates.forEach((input, i) =>
      assertConnectionString(input, candidates.length > 1 ? `primary[${i}]` : 'primary'),
    );
    (options.replicas ?? []).forEach((input, i) =>
      assertConnectionString(input, `replica${i + 1}`),
    );
    const first = candidates[0]!;
    super(
      first instanceof pg.Pool
        ? first.options
        : typeof first === 'string'
          ? { ...options.pool, connectionString: first }
          : { ...options.pool, ...first },
    );
    const owned: pg.Pool[] = [];
    const pools: pg.Pool[] = [];
    internals.set(this, { owned, pools, ending: undefined });
    const open = (input: PgNodeInput, fallbackName: string): OpenedNode<pg.Pool> => {
      if (input instanceof pg.Pool) return { handle: input, name: fallbackName, weight: undefined };
      if (typeof input === 'string') {
        const pool = new pg.Pool({ ...options.pool, connectionString: input });
        owned.push(pool);
        return { handle: pool, name: fallbackName, weight: undefined };
      }
      if (input === null || typeof input !== 'object') {
        throw new KoyoRouterError(
          'INVALID_OPTION',
          `${fallbackName}: expected a connection string, a pg.PoolConfig or a pg.Pool.`,
        );
      }
      const { name, weight, ...config } = input;
      const pool = new pg.Pool({ ...options.pool, ...config });
      owned.push(pool);
      return { handle: pool, name: name ?? fallbackName, weight };
    };
    this.router = routerOverInputs(options, pgDriver, pgIdentity, (input, fallbackName) => {
      const opened = open(input, fallbackName);
      pools.push(opened.handle);
      return opened;
    });
    for (const pool of pools) this.#forwardErrors(pool);
    this.#forwardOnDemand(pools);
  }

  /**
   * Re-emits the pools' `connect`, `acquire`, `release` and `remove` events once someone listens
   * for them here: a listener on every pool would cost each query two calls for nothing.
   */
  #forwardOnDemand(pools: readonly pg.Pool[]): void {
    const forwarded = new Set<string | symbol>();
    this.#onNewListener = (event: string | symbol) => {
      if (!FORWARDED_EVENTS.has(event) || forwarded.has(event)) return;
      forwarded.add(event);
      for (const pool of pools)
        (pool as EventEmitter).on(event, (...args: unknown[]) => this.emit(event, ...args));
    };
    (this as EventEmitter).on('newListener', this.#onNewListener);
  }

  #onNewListener: ((event: string | symbol) => void) | undefined;

  /** Also keeps the hook that starts forwarding the pools' events (see `#forwardOnDemand`). */
  override removeAllListeners(event?: string | symbol): this {
    super.removeAllListeners(event);
    const hook = this.#onNewListener;
    if (hook !== undefined && (event === undefined || event === 'newListener'))
      (this as EventEmitter).on('newListener', hook);
    return this;
  }

  #forwardErrors(pool: pg.Pool): void {
    pool.on('error', (error: Error, client: pg.PoolClient) => {
      // The replica's position now (the replica set changes after a failover).
      const replica = this.router.replicaHandles.indexOf(pool);
      if (replica >= 0) this.router.reportConnectionError(replica, error);
      // An idle client died (server restart, network). pg.Pool would crash the process without a
      // listener; the routed pool only re-emits when someone listens.
      if (this.listenerCount('error') > 0) this.emit('error', error, client);
    });
  }

  /**
   * Runs `fn` in a transaction on a client of the primary: BEGIN, `fn(client)`, COMMIT (ROLLBACK
   * if it throws), release. Inside `fn` the outer pool also runs every statement on that client
   * (reads too, unless `ignoreTransactions`). In `skipTransactions`, runs `fn` without BEGIN/COMMIT;
   * in `blockTransactions`, throws `TRANSACTION_BLOCKED`.
   *
   * @example
   * await pool.transaction(async (client) => {
   *   await client.query('INSERT INTO orders (id) VALUES ($1)', [id]);
   *   await pool.query('SELECT * FROM orders WHERE id = $1', [id]); // same connection: sees the row
   * });
   */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const mode = this.router.transactionMode();
    const client = await connectPinned(this.router);
    const state = pinnedState.get(client)!;
    let broken: unknown;
    try {
      if (mode === 'skip') return await fn(client);
      state.helper = true;
      await client.query('BEGIN');
      let result: T;
      try {
        result = await this.router.inTransaction(client, () => fn(client));
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError;
        });
        throw error;
      }
      await client.query('COMMIT');
      return result;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }
}

/** Events of the underlying pools that the routed pool re-emits (besides `error`). */
const FORWARDED_EVENTS: ReadonlySet<string | symbol> = new Set([
  'connect',
  'acquire',
  'release',
  'remove',
]);

interface Internals {
  readonly owned: pg.Pool[];
  /** Every node's pool. */
  readonly pools: pg.Pool[];
  ending: Promise<void> | undefined;
}

const internals = new WeakMap<RoutedPool, Internals>();

Object.defineProperty(RoutedPool.prototype, 'primaryPool', {
  configurable: true,
  get(this: RoutedPool) {
    return this.router.primaryHandle;
  },
});

Object.defineProperty(RoutedPool.prototype, 'replicaPools', {
  configurable: true,
  get(this: RoutedPool) {
    return this.router.replicaHandles;
  },
});

/** What makes two node inputs the same server (one pool for both). */
function pgIdentity(input: PgNodeInput): unknown {
  if (input instanceof pg.Pool || input === null || typeof input !== 'object')
    return typeof input === 'string' ? urlIdentity(input) : input;
  if (typeof input.connectionString === 'string') return urlIdentity(input.connectionString);
  return `${input.user ?? ''}@${input.host ?? ''}:${input.port ?? 5432}/${input.database ?? ''}`;
}

/** Options of every routed `query`: the same object each time (a statement allocates nothing for them). */
const SKIPPABLE: ExecuteOptions<unknown> = { skip: skippedStatement };

// query, connect and end are set on the prototype rather than declared in the class, so that
// RoutedPool keeps pg.Pool's exact (generic, overloaded) signatures for them.
Object.defineProperty(RoutedPool.prototype, 'query', {
  configurable: true,
  writable: true,
  /** Routes and runs one statement, with the same signatures as `pg.Pool#query`. */
  value: function query(this: RoutedPool, ...args: any[]): any {
    return routeQueryCall(
      args,
      (...a) => (this.primaryPool.query as (...q: unknown[]) => unknown)(...a),
      (text, query) =>
        this.router.execute(text, (d, check) => runDecided(pgDriver, d, query, check), SKIPPABLE),
    );
  },
});

Object.defineProperty(RoutedPool.prototype, 'connect', {
  configurable: true,
  writable: true,
  /** Checks out a client of the primary (pinned), as `pg.Pool#connect`. */
  value: function connect(this: RoutedPool, ...args: any[]): any {
    const callback =
      typeof args[0] === 'function'
        ? (args[0] as (
            error: Error | undefined,
            client?: pg.PoolClient,
            done?: (release?: unknown) => void,
          ) => void)
        : undefined;
    const promise = connectPinned(this.router);
    if (callback === undefined) return promise;
    promise.then(
      (client) =>
        callback(undefined, client, (release?: unknown) => client.release(release as boolean)),
      (error: Error) => callback(error),
    );
    return undefined;
  },
});

Object.defineProperty(RoutedPool.prototype, 'end', {
  configurable: true,
  writable: true,
  /** Ends every pool this router created (pools you passed in stay open) and stops probing. */
  value: function end(this: RoutedPool, ...args: any[]): any {
    const callback = typeof args[0] === 'function' ? (args[0] as () => void) : undefined;
    const state = internals.get(this)!;
    if (state.ending === undefined) {
      this.router.close();
      (this as unknown as { ending: boolean }).ending = true;
      state.ending = Promise.all(state.owned.map((pool) => pool.end())).then(() => {
        (this as unknown as { ended: boolean }).ended = true;
      });
    }
    if (callback === undefined) return state.ending;
    void state.ending.then(callback, callback);
    return undefined;
  },
});

for (const counter of ['totalCount', 'idleCount', 'waitingCount', 'expiredCount'] as const) {
  Object.defineProperty(RoutedPool.prototype, counter, {
    configurable: true,
    get(this: RoutedPool) {
      let sum = 0;
      for (const pool of internals.get(this)!.pools)
        sum += (pool as unknown as Record<string, number>)[counter] ?? 0;
      return sum;
    },
  });
}

/**
 * Creates a routed `pg.Pool` over a primary and its streaming replicas.
 *
 * @example
 * import { createRoutedPool } from '@koyo/router/pg';
 *
 * const pool = createRoutedPool({
 *   primary: process.env.DATABASE_URL!,
 *   replicas: [process.env.REPLICA1_URL!, process.env.REPLICA2_URL!],
 *   maxLag: { bytes: 16 * 1024 * 1024 },
 *   readYourWrites: { mode: 'lsn', waitMs: 200 },
 * });
 * await pool.query('SELECT * FROM users WHERE id = $1', [1]); // a replica
 * await pool.query('UPDATE users SET name = $1 WHERE id = $2', ['Ada', 1]); // the primary
 */
export function createRoutedPool(options: RoutedPoolOptions): RoutedPool {
  return new RoutedPool(options);
}

export { KoyoRouterError } from './errors.js';
