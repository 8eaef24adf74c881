import { AsyncLocalStorage } from 'node:async_hooks';
import type { Router } from '@koyo/router';
import { DrizzleQueryError, entityKind, type SQL } from 'drizzle-orm';
import {
  PgPreparedQuery,
  PgSession,
  PgTransaction,
  type PgDialect,
  type PgTransactionConfig,
  type PreparedQueryConfig,
} from 'drizzle-orm/pg-core';

/** The arguments of `PgSession#prepareQuery`, kept to prepare the same query on any node. */
type PrepareArgs = Parameters<PgSession['prepareQuery']>;

/** The relational schema Drizzle passes to its database and transaction constructors. */
export type DrizzleSchemaConfig = ConstructorParameters<typeof PgTransaction>[2];

/** Runs a function in the async context captured when a builder was created. */
type Context = <R>(fn: () => R) => R;

/** What a routed transaction binds in the router's context: its driver session and the tx given to the user. */
interface BoundTransaction {
  readonly session: PgSession;
  readonly tx: PgTransaction<any, any, any>;
}

/** Internal members of Drizzle's prepared queries that builders set after `prepareQuery`. */
interface PreparedInternals {
  joinsNotNullableMap?: Record<string, boolean> | undefined;
  authToken?: unknown;
  setToken?(token: unknown): unknown;
  all?(placeholderValues?: Record<string, unknown>): Promise<unknown>;
}

/**
 * State shared by every routed session of one `withRouting` database.
 *
 * @internal
 */
export class RoutingCore {
  constructor(
    readonly router: Router<PgSession>,
    readonly primary: PgSession,
    readonly dialect: PgDialect,
  ) {}

  /**
   * Runs one statement: routed by the router, or (inside a transaction given to the user) on the
   * transaction's session, counted and logged as `pinned-connection`.
   */
  run<R>(
    sql: string,
    pinned: PgSession | undefined,
    fn: (session: PgSession) => Promise<R>,
  ): Promise<R> {
    if (pinned !== undefined)
      return this.router.execute(sql, () => fn(pinned), { pinned, inTransaction: true });
    return this.router
      .execute(sql, (d) =>
        fn(
          d.target === 'transaction' ? (d.transaction as BoundTransaction).session : d.handle!,
        ).catch(unwrapForRouter),
      )
      .catch(rewrap);
  }

  /**
   * The transaction object given to the user: a real transaction of the driver's class (so
   * `instanceof` holds), whose statements run on the driver's transaction session through the
   * router (counted and logged), and whose nested `transaction()` makes a savepoint the same way.
   */
  wrapTransaction(raw: PgTransaction<any, any, any>): PgTransaction<any, any, any> {
    const rawSession = (raw as unknown as { _: { session: PgSession } })._.session;
    const internals = raw as unknown as { schema: DrizzleSchemaConfig; nestedIndex: number };
    const pinned = new RoutingSession(this, this.dialect, internals.schema, rawSession);
    const Ctor = raw.constructor as new (
      dialect: PgDialect,
      session: PgSession,
      schema: DrizzleSchemaConfig,
      nestedIndex?: number,
    ) => PgTransaction<any, any, any>;
    const tx = new Ctor(this.dialect, pinned, internals.schema, internals.nestedIndex);
    const transaction = <T>(fn: (nested: PgTransaction<any, any, any>) => Promise<T>): Promise<T> =>
      raw.transaction((nestedRaw) => {
        const nested = this.wrapTransaction(nestedRaw);
        const bound: BoundTransaction = {
          session: (nestedRaw as unknown as { _: { session: PgSession } })._.session,
          tx: nested,
        };
        return this.router.inTransaction(bound, () => fn(nested));
      });
    Object.defineProperty(tx, 'transaction', {
      configurable: true,
      writable: true,
      value: transaction,
    });
    return tx;
  }
}

/**
 * Drizzle wraps driver errors in a `DrizzleQueryError` whose `cause` holds the SQLSTATE or socket
 * error code. The router decides retries and ejections from an error's own `code` and `message`,
 * so it gets a carrier with the driver error's code and message; the caller gets Drizzle's error.
 */
class DriverFailure extends Error {
  readonly code: unknown;
  constructor(
    readonly original: unknown,
    driverError: { code?: unknown; message?: unknown },
  ) {
    super(typeof driverError.message === 'string' ? driverError.message : String(driverError));
    this.code = driverError.code;
  }
}

function unwrapForRouter(error: unknown): never {
  if (
    error instanceof DrizzleQueryError &&
    error.cause !== null &&
    typeof error.cause === 'object'
  ) {
    throw new DriverFailure(error, error.cause);
  }
  throw error;
}

function rewrap(error: unknown): never {
  throw error instanceof DriverFailure ? error.original : error;
}

/**
 * A prepared query that is prepared on a node only once the router has chosen it, each time it
 * runs (so a prepared statement of a routed database is routed on every execution).
 *
 * @internal
 */
export class RoutedPreparedQuery<
  T extends PreparedQueryConfig = PreparedQueryConfig,
> extends PgPreparedQuery<T> {
  static override readonly [entityKind]: string = 'KoyoRoutedPreparedQuery';
  /** Set by Drizzle's select/update builders after `prepareQuery`; handed on to the node's query. */
  joinsNotNullableMap: Record<string, boolean> | undefined;
  readonly #core: RoutingCore;
  readonly #args: PrepareArgs;
  readonly #pinned: PgSession | undefined;
  readonly #context: Context | undefined;
  readonly #prepared = new WeakMap<PgSession, PgPreparedQuery<T>>();

  constructor(
    core: RoutingCore,
    args: PrepareArgs,
    pinned: PgSession | undefined,
    context: Context | undefined,
  ) {
    super(args[0], undefined, undefined);
    this.#core = core;
    this.#args = args;
    this.#pinned = pinned;
    // A statement runs in the routing context where its builder was written (so
    // `readFromPrimary(() => db.select()...)` holds even though Drizzle's builders run when
    // awaited), except a named prepared statement, which runs in the context of each execution.
    this.#context = args[2] === undefined ? context : undefined;
  }

  #run<R>(fn: (session: PgSession) => Promise<R>): Promise<R> {
    const context = this.#context;
    const run = (): Promise<R> => this.#core.run(this.#args[0].sql, this.#pinned, fn);
    return context === undefined ? run() : context(run);
  }

  #on(session: PgSession): PgPreparedQuery<T> & PreparedInternals {
    let query = this.#prepared.get(session);
    if (query === undefined) {
      query = session.prepareQuery<T>(...this.#args);
      this.#prepared.set(session, query);
    }
    const internals = query as PgPreparedQuery<T> & PreparedInternals;
    internals.joinsNotNullableMap = this.joinsNotNullableMap;
    const token = (this as unknown as PreparedInternals).authToken;
    if (token !== undefined) internals.setToken?.(token);
    return internals;
  }

  /** Runs the query on the node the router picks (Drizzle's mapping of rows included). */
  execute(placeholderValues?: Record<string, unknown>): Promise<T['execute']> {
    return this.#run((session) => this.#on(session).execute(placeholderValues));
  }

  /** Runs the query on the node the router picks and returns the driver's rows. */
  all(placeholderValues?: Record<string, unknown>): Promise<T['all']> {
    return this.#run((session) => {
      const query = this.#on(session);
      return (query.all ?? query.execute).call(query, placeholderValues);
    });
  }

  override mapResult(response: unknown, isFromBatch?: boolean): unknown {
    return this.#on(this.#pinned ?? this.#core.primary).mapResult(response, isFromBatch);
  }

  /** @internal as Drizzle's driver queries. */
  isResponseInArrayMode(): boolean {
    return this.#args[3];
  }
}

/**
 * The session of a `withRouting` database: Drizzle's builders, relational queries, `$count`,
 * `execute` and prepared statements all end in `prepareQuery`, so routing here covers every
 * method that runs SQL, including ones Drizzle adds later.
 *
 * @internal
 */
export class RoutingSession extends PgSession<any, any, any> {
  static override readonly [entityKind]: string = 'KoyoRoutingSession';
  readonly #core: RoutingCore;
  readonly #schema: DrizzleSchemaConfig;
  readonly #pinned: PgSession | undefined;
  readonly #context: Context | undefined;

  constructor(
    core: RoutingCore,
    dialect: PgDialect,
    schema: DrizzleSchemaConfig,
    pinned?: PgSession,
    context?: Context,
  ) {
    super(dialect);
    this.#core = core;
    this.#schema = schema;
    this.#pinned = pinned;
    this.#context = context;
  }

  /**
   * This session bound to the current async context: what the routed database hands to each
   * builder it creates (its `session` is a getter), so the builder's statement is routed in the
   * context it was written in.
   */
  bound(): RoutingSession {
    if (this.#pinned !== undefined) return this;
    return new RoutingSession(
      this.#core,
      this.dialect,
      this.#schema,
      undefined,
      AsyncLocalStorage.snapshot(),
    );
  }

  /** The router deciding where this session's statements run. */
  get router(): Router<PgSession> {
    return this.#core.router;
  }

  prepareQuery<T extends PreparedQueryConfig = PreparedQueryConfig>(
    ...args: PrepareArgs
  ): PgPreparedQuery<T> {
    return new RoutedPreparedQuery<T>(this.#core, args, this.#pinned, this.#context);
  }

  override async count(sql: SQL): Promise<number> {
    const result = await this.execute<unknown>(sql);
    const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
    return Number((rows[0] as { count: unknown }).count);
  }

  /**
   * `db.transaction(fn)`: on the primary (a savepoint when already inside a transaction of this
   * router, also when called through the outer db); inside `fn`, the outer db routes into it.
   */
  async transaction<T>(
    fn: (tx: PgTransaction<any, any, any>) => Promise<T>,
    config?: PgTransactionConfig,
  ): Promise<T> {
    const core = this.#core;
    const router = core.router;
    if (this.#pinned !== undefined) {
      // Not reached through Drizzle's API (a transaction's own transaction() is a savepoint).
      return this.#pinned.transaction((raw) => fn(core.wrapTransaction(raw)), config);
    }
    if (router.transactionMode() === 'skip')
      return fn(new SkippedTransaction(core.dialect, this, this.#schema));
    const text = config === undefined ? 'BEGIN' : `BEGIN ${transactionConfigText(config)}`;
    // Following the primary: after a failover BEGIN runs again on the new primary only if `fn`
    // was not called yet and the attempt provably did nothing (the router decides).
    let started = false;
    const result = await router.execute(
      text,
      (d) => {
        if (d.target === 'transaction') {
          started = true;
          return (d.transaction as BoundTransaction).tx.transaction(fn);
        }
        // The current primary's session (it changes after a failover).
        return (d.handle ?? core.primary).transaction((raw) => {
          started = true;
          const tx = core.wrapTransaction(raw);
          const bound: BoundTransaction = {
            session: (raw as unknown as { _: { session: PgSession } })._.session,
            tx,
          };
          return router.inTransaction(bound, () => fn(tx));
        }, config);
      },
      { started: () => started },
    );
    await router.noteWrite();
    return result;
  }
}

/** The `tx` of a `db.transaction(fn)` inside `skipTransactions()`: no BEGIN, statements routed as usual. */
class SkippedTransaction extends PgTransaction<any, any, any> {
  static override readonly [entityKind]: string = 'KoyoSkippedTransaction';

  transaction<T>(fn: (tx: PgTransaction<any, any, any>) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

function transactionConfigText(config: PgTransactionConfig): string {
  const parts: string[] = [];
  if (config.isolationLevel) parts.push(`ISOLATION LEVEL ${config.isolationLevel.toUpperCase()}`);
  if (config.accessMode) parts.push(config.accessMode.toUpperCase());
  if (typeof config.deferrable === 'boolean')
    parts.push(config.deferrable ? 'DEFERRABLE' : 'NOT DEFERRABLE');
  return parts.join(' ');
}
