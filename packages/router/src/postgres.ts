/**
 * `@koyo/router/postgres`: a routed postgres.js `sql`.
 *
 * @packageDocumentation
 */
import postgres from 'postgres';
import { assertConnectionString } from './connection-string.js';
import { KoyoRouterError } from './errors.js';
import { routerOverInputs, urlIdentity, type OpenedNode } from './node-set.js';
import { ownedReplicaSqls, postgresDriver, type AnySql } from './postgres-driver.js';
import { RoutedQuery } from './postgres-query.js';
import type { Router, RouterOptions } from './router.js';

/** A node given as a connection URL, postgres.js options (with an optional `url`, name and weight), or your own `sql`. */
export type PostgresNodeInput =
  | string
  | (postgres.Options<any> & {
      readonly url?: string;
      readonly name?: string;
      readonly weight?: number;
    })
  | AnySql;

/** Options of {@link createRoutedSql}: the nodes, postgres.js settings, and every {@link RouterOptions router option}. */
export interface RoutedSqlOptions extends RouterOptions {
  /**
   * The primary (takes writes, `sql.begin`, `sql.reserve`, LISTEN/NOTIFY), or a list of
   * candidates: the router uses the one where `pg_is_in_recovery()` is false and follows a
   * failover (see `discover`, `failoverMs`).
   */
  readonly primary: PostgresNodeInput | readonly PostgresNodeInput[];
  /** Streaming replicas that may take reads. May be empty. */
  readonly replicas?: readonly PostgresNodeInput[];
  /** postgres.js options applied to every `sql` the router creates (e.g. `{ max: 10 }`). */
  readonly postgres?: postgres.Options<any>;
}

/**
 * The routed `sql`: the postgres.js API, routed. Tagged templates, `unsafe` and `file` are
 * classified and run on a replica or the primary when awaited; `begin`, `reserve`, `listen`,
 * `notify`, `subscribe` and `largeObject` use the primary; helpers (`sql(obj)`, `sql('name')`,
 * `array`, `json`, `typed`) work as in postgres.js.
 */
export interface RoutedSql {
  <T extends readonly (object | undefined)[] = postgres.Row[]>(
    template: TemplateStringsArray,
    ...parameters: readonly unknown[]
  ): postgres.PendingQuery<T>;
  (first: unknown, ...rest: unknown[]): any;
  unsafe<T extends any[] = (postgres.Row & Iterable<postgres.Row>)[]>(
    query: string,
    parameters?: unknown[],
    queryOptions?: postgres.UnsafeQueryOptions,
  ): postgres.PendingQuery<T>;
  file<T extends readonly any[] = postgres.Row[]>(
    path: string,
    args?: unknown[],
    options?: { cache?: boolean },
  ): postgres.PendingQuery<T>;
  begin<T>(cb: (sql: postgres.TransactionSql<any>) => T | Promise<T>): Promise<Awaited<T>>;
  begin<T>(
    options: string,
    cb: (sql: postgres.TransactionSql<any>) => T | Promise<T>,
  ): Promise<Awaited<T>>;
  reserve(): Promise<postgres.ReservedSql<any>>;
  listen: AnySql['listen'];
  notify: AnySql['notify'];
  subscribe: AnySql['subscribe'];
  largeObject: AnySql['largeObject'];
  array: AnySql['array'];
  json: AnySql['json'];
  typed: AnySql['typed'];
  types: AnySql['types'];
  readonly options: AnySql['options'];
  readonly parameters: AnySql['parameters'];
  readonly PostgresError: typeof postgres.PostgresError;
  /** Ends every `sql` this router created (the ones you passed in stay open) and stops probing. */
  end(options?: { timeout?: number }): Promise<void>;
  /** The routing core (explain, stats, tokens, probes). */
  readonly router: Router<AnySql>;
  /** The primary's `sql` (after a failover: the new primary's). */
  readonly primary: AnySql;
  /** The replicas' `sql`, in order (after a failover: the current replica set). */
  readonly replicas: readonly AnySql[];
}

/**
 * postgres.js settings for the replicas' sql the router creates, unless given: no reconnect
 * backoff. postgres.js waits up to 20 s (growing with each failed attempt) before it even tries to
 * connect for a waiting query; the router's ejection already keeps reads and probes off a failing
 * replica, so a read that does reach one is attempted at once and settles within
 * `connect_timeout`.
 */
const REPLICA_DEFAULTS: postgres.Options<any> = { backoff: () => 0 };

/**
 * Creates a routed postgres.js `sql` over a primary and its streaming replicas.
 *
 * @example
 * import { createRoutedSql } from '@koyo/router/postgres';
 *
 * const sql = createRoutedSql({ primary: process.env.DATABASE_URL!, replicas: [process.env.REPLICA_URL!] });
 * const users = await sql`SELECT * FROM users WHERE id = ${1}`;          // a replica
 * await sql.begin(async (tx) => {
 *   await tx`UPDATE users SET name = ${'Ada'} WHERE id = ${1}`;
 *   await sql`SELECT name FROM users WHERE id = ${1}`;                   // the same transaction
 * });
 */
export function createRoutedSql(options: RoutedSqlOptions): RoutedSql {
  if (
    options === null ||
    typeof options !== 'object' ||
    options.primary === undefined ||
    (Array.isArray(options.primary) && options.primary.length === 0)
  ) {
    throw new KoyoRouterError(
      'INVALID_OPTION',
      'createRoutedSql: expected options { primary, replicas } (primary: a URL, postgres.js options or an sql).',
    );
  }
  const owned: AnySql[] = [];
  const open = (
    input: PostgresNodeInput,
    fallbackName: string,
    defaults: postgres.Options<any>,
  ): OpenedNode<AnySql> => {
    if (typeof input === 'function')
      return { handle: input, name: fallbackName, weight: undefined };
    assertConnectionString(input, fallbackName);
    if (typeof input === 'string') {
      const sql = postgres(input, { ...defaults, ...options.postgres });
      owned.push(sql);
      return { handle: sql, name: fallbackName, weight: undefined };
    }
    if (input === null || typeof input !== 'object') {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        `${fallbackName}: expected a URL, postgres.js options or an sql.`,
      );
    }
    const { url, name, weight, ...config } = input;
    const merged = { ...defaults, ...options.postgres, ...config };
    const sql = url === undefined ? postgres(merged) : postgres(url, merged);
    owned.push(sql);
    return { handle: sql, name: name ?? fallbackName, weight };
  };
  // Following the primary, any node may become a replica (and go down): every node gets the
  // replicas' settings.
  const following = Array.isArray(options.primary) || options.discover === true;
  const ownedReplicas = new Set<AnySql>();
  const router = routerOverInputs(
    options,
    postgresDriver,
    postgresIdentity,
    (input, fallbackName) => {
      const replicaLike = following || fallbackName !== 'primary';
      const opened = open(input, fallbackName, replicaLike ? REPLICA_DEFAULTS : {});
      if (replicaLike && owned.includes(opened.handle)) {
        ownedReplicas.add(opened.handle);
        ownedReplicaSqls.add(opened.handle);
      }
      return opened;
    },
  );
  /** The first primary's sql: helpers (`array`, `json`, ...) are the same on every node. */
  const p = router.primaryHandle;

  function sql(first: unknown, ...rest: unknown[]): unknown {
    if (Array.isArray(first) && Array.isArray((first as unknown as TemplateStringsArray).raw)) {
      return new RoutedQuery(router, 'tag', first, rest);
    }
    return (p as unknown as (...a: unknown[]) => unknown)(first, ...rest);
  }

  async function begin(...args: unknown[]): Promise<unknown> {
    const fn = args.pop() as (tx: postgres.TransactionSql<any>) => unknown;
    if (typeof fn !== 'function')
      throw new KoyoRouterError(
        'INVALID_OPTION',
        'sql.begin: expected a callback as last argument.',
      );
    const mode = router.transactionMode();
    if (mode === 'skip') return fn(routed as unknown as postgres.TransactionSql<any>);
    const beginOptions = args[0] as string | undefined;
    // Once fn was called the transaction may have done something: never run it again.
    let started = false;
    const result = await router.execute(
      beginOptions === undefined ? 'BEGIN' : `BEGIN ${beginOptions}`,
      (d) => {
        // Settle what fn returns inside the scope, so queries it returns unawaited still see the transaction.
        const run = (tx: postgres.TransactionSql<any>): Promise<unknown> =>
          router.inTransaction(tx, async () => {
            started = true;
            const value = await fn(loggedTransaction(router, tx));
            return Array.isArray(value) ? Promise.all(value) : value;
          });
        if (d.target === 'transaction') {
          // begin inside a transaction of this router: a savepoint, as postgres.js does for nested calls
          return (d.transaction as postgres.TransactionSql<any>).savepoint(run);
        }
        // postgres.js sends COMMIT (or ROLLBACK) itself: log it, so a transaction's end shows.
        const primary = d.handle!;
        const begun =
          beginOptions === undefined ? primary.begin(run) : primary.begin(beginOptions, run);
        return begun.then(
          (value) => {
            router.logStatement('COMMIT', 'in-transaction');
            return value;
          },
          (error: unknown) => {
            router.logStatement('ROLLBACK', 'in-transaction');
            throw error;
          },
        );
      },
      { started: () => started },
    );
    await router.noteWrite();
    return result;
  }

  const routed = Object.assign(sql, {
    unsafe: (query: string, parameters?: unknown, queryOptions?: unknown) => {
      const params = Array.isArray(parameters) ? parameters : [];
      const opts = Array.isArray(parameters) ? queryOptions : parameters;
      return new RoutedQuery(router, 'unsafe', [query], params, opts);
    },
    file: (path: string, parameters?: unknown, fileOptions?: unknown) => {
      const params = Array.isArray(parameters) ? parameters : [];
      const opts = Array.isArray(parameters) ? fileOptions : parameters;
      return new RoutedQuery(router, 'file', [path], params, opts);
    },
    begin,
    reserve: () => {
      if (router.closed)
        return Promise.reject(
          new KoyoRouterError('CLOSED', 'This routed sql was closed with end().'),
        );
      return router.withPrimary((primary) => primary.reserve());
    },
    // The primary when called (a LISTEN already running stays on its node).
    listen: (...a: Parameters<AnySql['listen']>) => router.primaryHandle.listen(...a),
    notify: (...a: Parameters<AnySql['notify']>) => router.primaryHandle.notify(...a),
    subscribe: ((...a: Parameters<AnySql['subscribe']>) =>
      router.primaryHandle.subscribe(...a)) as AnySql['subscribe'],
    largeObject: (...a: Parameters<AnySql['largeObject']>) =>
      router.primaryHandle.largeObject(...a),
    array: p.array.bind(p),
    json: p.json.bind(p),
    typed: p.typed,
    types: p.types,
    PostgresError: postgres.PostgresError,
    end: async (endOptions?: { timeout?: number }) => {
      router.close();
      // A replica's sql carries only routed reads and probes: once they settled there is nothing
      // to wait for, so end it at once. Waiting would hang forever on a connection that was lost
      // during a query, which postgres.js never finishes ending (porsager/postgres#1097).
      await router.settled();
      const primary = router.primaryHandle;
      await Promise.all(
        owned.map((s) =>
          s.end(ownedReplicas.has(s) && s !== primary ? { timeout: 0 } : endOptions),
        ),
      );
    },
    router,
  });
  Object.defineProperty(routed, 'primary', { get: () => router.primaryHandle, enumerable: true });
  Object.defineProperty(routed, 'replicas', {
    get: () => router.replicaHandles,
    enumerable: true,
  });
  Object.defineProperty(routed, 'options', {
    get: () => router.primaryHandle.options,
    enumerable: true,
  });
  Object.defineProperty(routed, 'parameters', {
    get: () => router.primaryHandle.parameters,
    enumerable: true,
  });
  return routed as unknown as RoutedSql;
}

/** What makes two node inputs the same server (one sql for both). */
function postgresIdentity(input: PostgresNodeInput): unknown {
  if (typeof input === 'string') return urlIdentity(input);
  if (typeof input === 'function' || input === null || typeof input !== 'object') return input;
  if (typeof input.url === 'string') return urlIdentity(input.url);
  const host = Array.isArray(input.host) ? input.host.join(',') : (input.host ?? '');
  const port = Array.isArray(input.port) ? input.port.join(',') : (input.port ?? 5432);
  return `${input.user ?? input.username ?? ''}@${host}:${port}/${input.database ?? input.db ?? ''}`;
}

export { KoyoRouterError } from './errors.js';

/**
 * The transaction `sql` handed to a `begin()` callback, logging each tagged-template statement it
 * runs (`tx\`...\``) like the router logs routed ones: they go to the transaction's connection
 * directly, so the router would not see them otherwise. Everything else is the driver's own.
 */
function loggedTransaction(
  router: Router<AnySql>,
  tx: postgres.TransactionSql<any>,
): postgres.TransactionSql<any> {
  return new Proxy(tx, {
    apply(target, thisArg, args: unknown[]) {
      const strings = args[0];
      if (Array.isArray(strings) && 'raw' in strings) {
        router.logStatement(
          strings.map((part, i) => (i === 0 ? part : `$${i}${part}`)).join(''),
          'in-transaction',
        );
      }
      return Reflect.apply(target, thisArg, args) as unknown;
    },
  });
}
