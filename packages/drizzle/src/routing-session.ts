import { AsyncLocalStorage } from 'node:async_hooks';
import { runDecided, type Router, type RouterDriver } from '@koyo/router';
import { entityKind, type SQL } from 'drizzle-orm';
import {
  PgSession,
  PgTransaction,
  type PgDialect,
  type PgPreparedQuery,
  type PgTransactionConfig,
  type PreparedQueryConfig,
} from 'drizzle-orm/pg-core';
import { rewrap, unwrapForRouter } from './driver-failure.js';
import { sessionOf, type BoundTransaction, type DrizzleStatement } from './drizzle-driver.js';
import { RoutedPreparedQuery, type Context, type PrepareArgs } from './routed-prepared-query.js';

/** The relational schema Drizzle passes to its database and transaction constructors. */
export type DrizzleSchemaConfig = ConstructorParameters<typeof PgTransaction>[2];

/**
 * State shared by every routed session of one `withRouting` database.
 *
 * @internal
 */
export class RoutingCore {
  constructor(
    readonly router: Router<PgSession>,
    readonly driver: RouterDriver<PgSession, BoundTransaction, DrizzleStatement, unknown>,
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
    const statement: DrizzleStatement = (session) => fn(session).catch(unwrapForRouter);
    return this.router
      .execute(sql, (d, check) => runDecided(this.driver, d, statement, check))
      .catch(rewrap) as Promise<R>;
  }

  /**
   * The transaction object given to the user: a real transaction of the driver's class (so
   * `instanceof` holds), whose statements run on the driver's transaction session through the
   * router (counted and logged), and whose nested `transaction()` makes a savepoint the same way.
   */
  wrapTransaction(raw: PgTransaction<any, any, any>): PgTransaction<any, any, any> {
    const rawSession = sessionOf(raw);
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
          session: sessionOf(nestedRaw),
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
            session: sessionOf(raw),
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
