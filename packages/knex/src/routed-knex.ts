import { AsyncLocalStorage } from 'node:async_hooks';
import {
  nodeSet,
  readFromPrimary,
  Router,
  urlIdentity,
  type RouteDecision,
  type RouteExplanation,
  type RouterNode,
  type RouterOptions,
} from '@koyo/router';
import knexFactory, { type Knex } from 'knex';
import type pg from 'pg';
import {
  ClientPG,
  Runner,
  TransactionPG,
  type KnexConnection,
  type KnexQueryObject,
  type PgClientLike,
  type RunnerLike,
} from './_knex-internals.js';
import { classifyBuilder, type BuilderClassification } from './classify-builder.js';
import { KoyoKnexError } from './errors.js';

/**
 * One node: a Knex config for `client: 'pg'` (the `client` key may be left out), optionally with
 * a `name` (for logs and stats) and a `weight` (for the `weighted` strategy), or a connection
 * string.
 */
export type KnexNodeConfig =
  string | (Knex.Config & { readonly name?: string; readonly weight?: number });

/**
 * Options of {@link routedKnex}: the nodes, every {@link RouterOptions router option} (following the
 * primary with `discover` and `failoverMs` included), and the Knex-specific ones.
 */
export interface RoutedKnexOptions extends RouterOptions {
  /**
   * The primary: takes writes, transactions, schema changes and migrations. Its config is the routed
   * instance's config. Or a list of candidates: the router uses the one where `pg_is_in_recovery()`
   * is false and follows a failover (see `discover`, `failoverMs`); then every node has its own pool.
   */
  readonly primary: KnexNodeConfig | readonly KnexNodeConfig[];
  /** Streaming replicas that may take reads (each gets its own Knex pool). May be empty. */
  readonly replicas?: readonly KnexNodeConfig[];
  /**
   * Where `knex.transaction(fn, { readOnly: true })` runs: `'primary'` (default) or `'replica'`,
   * a healthy replica picked like a read (strategy, lag bound, read-your-writes), the whole
   * transaction on one replica connection (one snapshot). Nested transactions stay on it.
   */
  readonly readOnlyTransactions?: 'primary' | 'replica';
}

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

const ROUTER = Symbol.for('koyo.knex.router');
const HANDLE_FORM = Symbol('koyo.knex.handleForm');
let uid = 0;

/** A connection handed to Knex's runner for one builder: the real node is chosen per statement. */
class RoutedConnection {
  readonly __knexUid = `__koyoRouted${++uid}`;
  __knexTxId: string | undefined = undefined;
  __knex__disposed: unknown = undefined;
  /** The primary connection bound on the first statement that went to the primary. */
  primary: KnexConnection | undefined = undefined;
  /** Where the statement in flight runs (for `cancelQuery`). */
  active: { client: PgClientLike; connection: KnexConnection } | undefined = undefined;
  released = false;
  constructor(readonly hint: BuilderClassification | undefined) {}
}

/** A transaction bound in the routing context (the handle the router gets). */
class TxHolder {
  trxClient: PgClientLike | undefined = undefined;
  transactor: { isCompleted(): boolean } | undefined = undefined;
  /** For read-only transactions on a replica: the node the connection came from. */
  node: { name: string; role: 'primary' | 'replica' } = { name: '', role: 'primary' };

  connection(): Promise<KnexConnection> | undefined {
    if (
      this.trxClient === undefined ||
      this.transactor === undefined ||
      this.transactor.isCompleted()
    )
      return undefined;
    return this.trxClient.acquireConnection();
  }
}

interface NodeEntry {
  readonly name: string;
  /** The name given in the config, if any. */
  readonly given: string | undefined;
  readonly weight: number | undefined;
  readonly config: Knex.Config;
}

type Container = (trx: Knex.Transaction) => unknown;

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
  if (options === null || typeof options !== 'object') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      'routedKnex: expected options { primary, replicas?, ...routerOptions }.',
    );
  }
  if (options.replicas !== undefined && !Array.isArray(options.replicas)) {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      'replicas: expected an array of Knex configs or connection strings (it may be empty).',
    );
  }
  const readOnlyTransactions = options.readOnlyTransactions ?? 'primary';
  if (readOnlyTransactions !== 'primary' && readOnlyTransactions !== 'replica') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `readOnlyTransactions: expected 'primary' or 'replica', got ${JSON.stringify(readOnlyTransactions)}.`,
    );
  }
  const list = Array.isArray(options.primary);
  const candidateInputs: readonly KnexNodeConfig[] = list
    ? (options.primary as readonly KnexNodeConfig[])
    : [options.primary as KnexNodeConfig];
  if (options.primary === undefined || candidateInputs.length === 0) {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      'primary: required (a Knex config or a connection string, or a list of them).',
    );
  }
  const candidateEntries = candidateInputs.map((input, i) =>
    normalizeNode(input, list ? `primary[${i}]` : 'primary'),
  );
  const primaryEntry = candidateEntries[0]!;
  const replicaEntries = (options.replicas ?? []).map((input, i) =>
    normalizeNode(input, `replicas[${i}]`, `replica${i + 1}`),
  );
  const logger = options.logger;
  /** Following the primary: every node has its own plain Knex; the routed instance's pool stays unused. */
  const following = list || options.discover === true;

  /** The plain Knex instance of each node's client (every node when following, else the replicas). */
  const knexOf = new Map<PgClientLike, Knex>();
  const nodeKnexes: Knex[] = [];
  const plainClient = (entry: NodeEntry): PgClientLike => {
    const k = knexFactory({ ...entry.config, client: 'pg' });
    nodeKnexes.push(k);
    const client = k.client as unknown as PgClientLike;
    knexOf.set(client, k);
    return client;
  };
  /** When following: the node client each checked-out primary connection came from. */
  const owners = new WeakMap<object, PgClientLike>();
  /** Connections checked out of a replica for a read-only transaction, with their node. */
  const replicaConnections = new WeakMap<object, { client: PgClientLike; name: string }>();
  /** Open-transaction state of primary connections used directly (transactions, `.connection(conn)`). */
  const pinnedStates = new WeakMap<object, { inTransaction: boolean }>();
  /** Read-only transactions on a replica, so the outer instance routes into them too. */
  const replicaTx = new AsyncLocalStorage<TxHolder>();
  const probePools: pg.Pool[] = [];

  // Set right after the root client is built; no statement can run before.
  let router!: Router<Knex.Client>;
  // eslint-disable-next-line prefer-const
  let root!: PgClientLike;

  const rawQuery = (connection: KnexConnection, obj: KnexQueryObject): Promise<KnexQueryObject> =>
    ClientPG.prototype._query.call(root, connection, obj);
  /** A connection of `client` (a node's plain client), remembered as its owner's. */
  const acquireFrom = async (client: PgClientLike): Promise<KnexConnection> => {
    const connection = await client.acquireConnection();
    owners.set(connection, client);
    return connection;
  };
  /** A connection of the primary; when following, of the current one (waiting out a failover). */
  const acquirePrimary = (): Promise<KnexConnection> =>
    following
      ? router.withPrimary((client) => acquireFrom(client as unknown as PgClientLike))
      : ClientPG.prototype.acquireConnection.call(root);
  const releasePrimary = (connection: KnexConnection): Promise<void> => {
    pinnedStates.delete(connection);
    const owner = owners.get(connection);
    if (owner !== undefined) {
      owners.delete(connection);
      return owner.releaseConnection(connection);
    }
    return ClientPG.prototype.releaseConnection.call(root, connection);
  };
  /**
   * The routed connection's primary connection for decision `d`: after a failover (a statement run
   * again on the new primary) the old node's connection is given back and one of the new node taken.
   */
  const primaryFor = async (
    conn: RoutedConnection,
    d: RouteDecision<Knex.Client>,
  ): Promise<KnexConnection> => {
    if (!following) return (conn.primary ??= await acquirePrimary());
    const client = d.handle as unknown as PgClientLike;
    const held = conn.primary;
    if (held !== undefined && owners.get(held) !== client) {
      conn.primary = undefined;
      await releasePrimary(held).catch(() => undefined);
    }
    return (conn.primary ??= await acquireFrom(client));
  };
  const skipped = (obj: KnexQueryObject) => (): KnexQueryObject => {
    obj.response = {
      command: obj.sql
        .trim()
        .split(/[\s;]+/, 1)[0]!
        .toUpperCase(),
      rowCount: null,
      oid: 0,
      rows: [],
      fields: [],
    };
    return obj;
  };
  const logReplicaTx = (holder: TxHolder, sql: string): void => {
    if (logger === undefined) return;
    const role = holder.node.role;
    logger(
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
  };

  /** Runs one statement of a routed (autocommit) runner where the router decided. */
  const runDecision = async (
    conn: RoutedConnection,
    obj: KnexQueryObject,
    d: RouteDecision<Knex.Client>,
  ): Promise<KnexQueryObject> => {
    if (d.target === 'transaction') {
      const holder = d.transaction as TxHolder;
      const pending = holder.connection();
      if (pending !== undefined) {
        const connection = await pending;
        conn.active = { client: root, connection };
        return rawQuery(connection, obj);
      }
      // The transaction completed while this statement was on its way: its writes are committed,
      // so the primary (outside any transaction) sees them.
    }
    if (d.target === 'replica') {
      const client = d.handle as unknown as PgClientLike;
      const connection = await client.acquireConnection();
      conn.active = { client, connection };
      try {
        return await client._query(connection, obj);
      } finally {
        if (conn.__knex__disposed !== undefined)
          connection.__knex__disposed = conn.__knex__disposed;
        await client.releaseConnection(connection);
      }
    }
    const primary = await primaryFor(conn, d);
    conn.active = { client: root, connection: primary };
    return rawQuery(primary, obj);
  };

  const routedQuery = (conn: RoutedConnection, obj: KnexQueryObject): Promise<KnexQueryObject> => {
    const sql = obj.sql;
    const holder = replicaTx.getStore();
    if (holder !== undefined) {
      const pending = holder.connection();
      if (pending !== undefined) {
        return pending.then((connection) => {
          logReplicaTx(holder, sql);
          conn.active = { client: root, connection };
          return rawQuery(connection, obj);
        });
      }
    }
    const run = (): Promise<KnexQueryObject> =>
      router.execute(sql, (d) => runDecision(conn, obj, d), { skip: skipped(obj) });
    // The builder knows better than the SQL (schema introspection, migrations): primary.
    if (conn.hint?.role === 'write' && router.classify(sql).role === 'read')
      return readFromPrimary(run);
    return run();
  };

  const pinnedQuery = (
    connection: KnexConnection,
    obj: KnexQueryObject,
  ): Promise<KnexQueryObject> => {
    let state = pinnedStates.get(connection);
    if (state === undefined) {
      state = { inTransaction: false };
      pinnedStates.set(connection, state);
    }
    const st = state;
    return router.execute(
      obj.sql,
      async (d) => {
        const result = await rawQuery(connection, obj);
        const control =
          d.classification.command === 'MULTI' ? null : d.classification.transactionControl;
        if (control === 'begin') st.inTransaction = true;
        else if (control === 'commit' || control === 'rollback') st.inTransaction = false;
        return result;
      },
      { pinned: connection, inTransaction: st.inTransaction, skip: skipped(obj) },
    );
  };

  /** Picks where a read-only transaction runs (like a read) and checks out a connection there. */
  const acquireReadOnly = async (holder: TxHolder): Promise<KnexConnection> => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const d = await router.route('SELECT 1');
      if (d.target !== 'replica') break;
      const client = d.handle as unknown as PgClientLike;
      try {
        const connection = await client.acquireConnection();
        replicaConnections.set(connection, { client, name: d.node });
        holder.node = { name: d.node, role: 'replica' };
        return connection;
      } catch (error) {
        router.reportConnectionError(d.replica, error);
        if (attempt === 1) throw error;
      }
    }
    holder.node = { name: router.primaryName, role: 'primary' };
    return acquirePrimary();
  };

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
      this.connection = conn as unknown as KnexConnection;
      try {
        return await cb(this, params);
      } finally {
        await this.client.releaseConnection(conn as unknown as KnexConnection);
      }
    }
  }

  class KoyoClient extends ClientPG {
    override runner(builder: unknown): unknown {
      return new KoyoRunner(this, builder);
    }

    override acquireConnection(): Promise<KnexConnection> {
      // Transactions, `knex.connection(...)`: a connection of the current primary when following.
      if (following && this === root) return acquirePrimary();
      return super.acquireConnection();
    }

    override releaseConnection(connection: KnexConnection): Promise<void> {
      if (connection instanceof RoutedConnection) {
        if (connection.released) return Promise.resolve();
        connection.released = true;
        const primary = connection.primary;
        connection.primary = undefined;
        connection.active = undefined;
        if (primary === undefined) return Promise.resolve();
        if (connection.__knex__disposed !== undefined)
          primary.__knex__disposed = connection.__knex__disposed;
        return releasePrimary(primary);
      }
      const replica = replicaConnections.get(connection);
      if (replica !== undefined) {
        replicaConnections.delete(connection);
        return replica.client.releaseConnection(connection);
      }
      return releasePrimary(connection);
    }

    override _query(connection: KnexConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
      if (!obj.sql) return Promise.reject(new Error('The query is empty'));
      if (connection instanceof RoutedConnection) return routedQuery(connection, obj);
      const replica = replicaConnections.get(connection);
      if (replica !== undefined) {
        const holder = replicaTx.getStore();
        if (holder !== undefined) logReplicaTx(holder, obj.sql);
        return rawQuery(connection, obj);
      }
      return pinnedQuery(connection, obj);
    }

    override _stream(
      connection: KnexConnection,
      obj: KnexQueryObject,
      stream: unknown,
      streamOptions: unknown,
    ): Promise<unknown> {
      const stream_ = (client: PgClientLike, c: KnexConnection): Promise<unknown> =>
        ClientPG.prototype._stream.call(client, c, obj, stream, streamOptions);
      if (!(connection instanceof RoutedConnection)) return stream_(root, connection);
      const conn = connection;
      // Rows may already have reached the consumer when a stream fails: never run it twice.
      let failure: { error: unknown } | undefined;
      return router.execute(obj.sql, async (d) => {
        if (failure !== undefined) throw failure.error;
        try {
          return await streamOn(d);
        } catch (error) {
          failure = { error };
          throw error;
        }
      });
      async function streamOn(d: RouteDecision<Knex.Client>): Promise<unknown> {
        if (d.target === 'transaction') {
          const pending = (d.transaction as TxHolder).connection();
          if (pending !== undefined) return stream_(root, await pending);
        }
        if (d.target === 'replica') {
          const client = d.handle as unknown as PgClientLike;
          const c = await client.acquireConnection();
          conn.active = { client, connection: c };
          try {
            return await stream_(client, c);
          } finally {
            await client.releaseConnection(c);
          }
        }
        const primary = await primaryFor(conn, d);
        conn.active = { client: root, connection: primary };
        return stream_(root, primary);
      }
    }

    override cancelQuery(connection: KnexConnection): Promise<unknown> {
      if (connection instanceof RoutedConnection) {
        const active = connection.active;
        if (active === undefined) return Promise.resolve();
        if (active.client !== root) return active.client.cancelQuery(active.connection);
        const owner = owners.get(active.connection);
        if (owner !== undefined) return owner.cancelQuery(active.connection);
        return ClientPG.prototype.cancelQuery.call(root, active.connection);
      }
      const replica = replicaConnections.get(connection);
      if (replica !== undefined) return replica.client.cancelQuery(connection);
      const owner = owners.get(connection);
      if (owner !== undefined) return owner.cancelQuery(connection);
      return ClientPG.prototype.cancelQuery.call(root, connection);
    }

    /** @internal cancels with an unrouted statement on a fresh connection. */
    _wrappedCancelQueryCall(
      conn: KnexConnection,
      connectionToKill: KnexConnection,
    ): Promise<KnexQueryObject> {
      return rawQuery(conn, {
        sql: 'SELECT pg_cancel_backend($1);',
        bindings: [connectionToKill.processID],
        options: {},
      });
    }

    override transaction(
      container: Container,
      config: (Knex.TransactionConfig & { [HANDLE_FORM]?: boolean }) | undefined,
      outerTx: unknown,
    ): unknown {
      let mode: 'run' | 'skip';
      try {
        mode = router.transactionMode();
      } catch (error) {
        return Promise.reject(error);
      }
      if (mode === 'skip') {
        // No BEGIN/COMMIT: the body runs on a routed connection, so its reads may use replicas.
        const virtual = new RoutedConnection(undefined);
        const trx = new TransactionPG(
          root,
          container,
          { ...config, connection: virtual },
          outerTx,
        ) as PromiseLike<unknown>;
        const release = (): Promise<void> =>
          root.releaseConnection(virtual as unknown as KnexConnection);
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
        readOnlyTransactions === 'replica' &&
        config?.readOnly === true &&
        this.transacting !== true &&
        router.replicaHandles.length > 0
      ) {
        const acquirer = Object.create(root) as PgClientLike;
        acquirer.acquireConnection = () => acquireReadOnly(holder);
        return replicaTx.run(holder, () => new TransactionPG(acquirer, wrapped, config, outerTx));
      }
      return router.inTransaction(holder, () => super.transaction(wrapped, config, outerTx));
    }

    override async destroy(callback?: unknown): Promise<void> {
      if (this !== root) return super.destroy(callback);
      router.close();
      await Promise.all([
        ...nodeKnexes.map((k) => k.destroy()),
        ...probePools.splice(0).map((p) => p.end()),
      ]);
      return super.destroy(callback);
    }
  }
  Object.defineProperty(KoyoClient.prototype, ROUTER, { get: () => router });

  const instance = knexFactory({
    ...primaryEntry.config,
    client: KoyoClient as unknown as typeof Knex.Client,
  }) as unknown as Knex;
  root = instance.client;
  // Plugins that look at the configured client name see a PostgreSQL client.
  root.config.client =
    typeof primaryEntry.config.client === 'string' ? primaryEntry.config.client : 'pg';

  const node = (
    entry: NodeEntry,
    client: PgClientLike,
    name = entry.name,
  ): RouterNode<Knex.Client> => {
    let pool: Promise<pg.Pool> | undefined;
    return {
      name,
      handle: client as unknown as Knex.Client,
      ...(entry.weight === undefined ? {} : { weight: entry.weight }),
      probe: async (sql) => {
        pool ??= probePool(client, probePools);
        const result = await (await pool).query({ text: sql, rowMode: 'array' });
        const value = (result.rows[0] as unknown[] | undefined)?.[0];
        return value === null || value === undefined ? null : String(value);
      },
    };
  };
  try {
    const nodes = nodeSet<NodeEntry, Knex.Client>(
      list ? candidateEntries : primaryEntry,
      replicaEntries,
      options.discover,
      nodeIdentity,
      (entry, fallbackName): RouterNode<Knex.Client> =>
        // One primary: it runs on the routed instance's own pool, as always.
        !following && entry === primaryEntry
          ? node(entry, root, 'primary')
          : node(entry, plainClient(entry), following ? (entry.given ?? fallbackName) : entry.name),
    );
    router = new Router<Knex.Client>({
      ...options,
      primary: nodes.primary,
      replicas: nodes.replicas,
    });
  } catch (error) {
    // A bad router option: release the pools created above before reporting it.
    void Promise.all([
      ClientPG.prototype.destroy.call(root),
      ...nodeKnexes.map((k) => k.destroy()),
    ]).catch(() => undefined);
    throw error;
  }

  // The handle form (`await knex.transaction()`) attaches to the current withSession() session.
  const context = (instance as unknown as { context: Record<string, unknown> }).context;
  const originalTransaction = context._transaction as (
    container: unknown,
    config: unknown,
    outerTx: unknown,
  ) => unknown;
  context._transaction = function (
    this: unknown,
    container: unknown,
    config: Record<string, unknown> | undefined,
    outerTx: unknown,
  ) {
    return originalTransaction.call(
      this,
      container,
      container ? config : { ...config, [HANDLE_FORM]: true },
      outerTx,
    );
  };

  // Migrations and seeds read their bookkeeping tables right after writing them: primary only.
  for (const property of ['migrate', 'seed'] as const) {
    const descriptor = Object.getOwnPropertyDescriptor(instance, property);
    const get = descriptor?.get;
    if (get === undefined) continue;
    Object.defineProperty(instance, property, {
      configurable: true,
      get(this: Knex) {
        return onPrimary(get.call(this) as object);
      },
    });
  }
  Object.defineProperty(instance, 'router', { value: router, enumerable: false });
  const fixedReplicas = Object.freeze(router.replicaHandles.map((h) => knexOf.get(h as never)!));
  Object.defineProperty(instance, 'replicas', {
    get: following
      ? () =>
          Object.freeze(router.replicaHandles.map((h) => knexOf.get(h as unknown as PgClientLike)!))
      : () => fixedReplicas,
    enumerable: false,
  });
  return instance as RoutedKnex<TRecord, TResult>;
}

/** Wraps every method of a Migrator/Seeder so the whole call runs in `readFromPrimary`. */
function onPrimary<T extends object>(target: T): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value = Reflect.get(obj, key, receiver) as unknown;
      if (typeof value !== 'function' || key === 'constructor') return value;
      return (...args: unknown[]) =>
        readFromPrimary(() => (value as (...a: unknown[]) => unknown).apply(obj, args));
    },
  });
}

async function probePool(client: PgClientLike, pools: pg.Pool[]): Promise<pg.Pool> {
  const c = client as unknown as {
    driver: typeof pg;
    connectionSettings: unknown;
    connectionConfigProvider?: () => Promise<unknown>;
  };
  let settings = c.connectionSettings;
  // Knex's `connection: async () => config` form: resolved on first use.
  if (settings === undefined && typeof c.connectionConfigProvider === 'function')
    settings = await c.connectionConfigProvider();
  const { expirationChecker: _expirationChecker, ...rest } = (
    typeof settings === 'string' ? { connectionString: settings } : (settings ?? {})
  ) as pg.PoolConfig & {
    expirationChecker?: unknown;
  };
  const config: pg.PoolConfig = rest;
  const pool = new c.driver.Pool({
    ...config,
    max: 1,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
  });
  // A node that goes away kills the idle probe connection; the next probe reports the failure.
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

function normalizeNode(input: KnexNodeConfig, label: string, fallbackName = 'primary'): NodeEntry {
  if (typeof input === 'string') {
    if (input === '')
      throw new KoyoKnexError('INVALID_OPTION', `${label}: the connection string is empty.`);
    return {
      name: fallbackName,
      given: undefined,
      weight: undefined,
      config: { client: 'pg', connection: input },
    };
  }
  if (input === null || typeof input !== 'object') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `${label}: expected a Knex config ({ client: 'pg', connection }) or a connection string.`,
    );
  }
  const { name, weight, ...config } = input;
  const client = config.client;
  if (client !== undefined && client !== 'pg' && client !== 'postgres' && client !== 'postgresql') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `${label}.client: @koyo/knex routes PostgreSQL only; expected 'pg' (or leave it out), got ${typeof client === 'string' ? JSON.stringify(client) : 'a client class'}.`,
    );
  }
  if (
    config.connection === undefined &&
    (config as { connectionPool?: unknown }).connectionPool === undefined
  ) {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `${label}.connection: required (a connection string or a pg connection config).`,
    );
  }
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new KoyoKnexError('INVALID_OPTION', `${label}.name: expected a non-empty string.`);
  }
  return { name: name ?? fallbackName, given: name, weight, config: { ...config, client: 'pg' } };
}

/** What makes two node configs the same server (one node, one pool, when following the primary). */
function nodeIdentity(entry: NodeEntry): unknown {
  const connection = entry.config.connection;
  if (typeof connection === 'string') return urlIdentity(connection);
  if (connection === null || typeof connection !== 'object') return entry;
  const c = connection as {
    connectionString?: unknown;
    user?: unknown;
    host?: unknown;
    port?: unknown;
    database?: unknown;
  };
  if (typeof c.connectionString === 'string') return urlIdentity(c.connectionString);
  if (c.host === undefined && c.database === undefined) return entry;
  return `${String(c.user ?? '')}@${String(c.host ?? '')}:${String(c.port ?? 5432)}/${String(c.database ?? '')}`;
}

/**
 * The router behind a routed Knex instance or one of its transactions (`trx`), or `undefined`
 * for a Knex instance that {@link routedKnex} did not create.
 *
 * @example
 * await knex.transaction(async (trx) => {
 *   routerOf(trx) === knex.router; // true
 * });
 */
export function routerOf(knex: Knex | Knex.Transaction): Router<Knex.Client> | undefined {
  const client = (knex as { client?: Record<symbol, unknown> } | undefined)?.client;
  return client?.[ROUTER] as Router<Knex.Client> | undefined;
}

/**
 * Where a query would run now, without running it: the decision of `@koyo/router` for its SQL,
 * with the builder's own verdict applied (a schema builder statement goes to the primary even
 * when its SQL reads). Accepts a query builder, a schema builder, `knex.raw(...)` or a SQL string.
 *
 * @example
 * explain(knex, knex('jobs').where({ state: 'ready' }).forUpdate().skipLocked()).target; // 'primary'
 * explain(knex, knex('users').where({ id: 1 })).target;                               // 'replica'
 */
export function explain(
  knex: Knex | Knex.Transaction,
  query: string | { toSQL(): unknown },
): RouteExplanation {
  const router = routerOf(knex);
  if (router === undefined)
    throw new KoyoKnexError(
      'NOT_ROUTED',
      'explain: this Knex instance was not created by routedKnex().',
    );
  let sql: string;
  let hint: BuilderClassification | undefined;
  if (typeof query === 'string') {
    sql = query;
  } else {
    hint = classifyBuilder(query);
    const compiled = query.toSQL() as
      { sql: string; toNative?: () => { sql: string } } | { sql: string }[];
    const first = Array.isArray(compiled) ? compiled[0] : compiled;
    if (first === undefined)
      throw new KoyoKnexError('INVALID_OPTION', 'explain: the builder produces no statement.');
    sql =
      'toNative' in first && typeof first.toNative === 'function'
        ? first.toNative().sql
        : first.sql;
  }
  if (hint?.role === 'write' && router.classify(sql).role === 'read') {
    const d = readFromPrimary(() => router.explain(sql));
    return { ...d, reason: d.target === 'transaction' ? d.reason : hint.reason };
  }
  return router.explain(sql);
}
