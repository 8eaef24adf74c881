import { entityKind } from 'drizzle-orm';
import { PgPreparedQuery, type PgSession, type PreparedQueryConfig } from 'drizzle-orm/pg-core';
import type { RoutingCore } from './routing-session.js';

/** @internal the arguments of `PgSession#prepareQuery`, kept to prepare the same query on any node. */
export type PrepareArgs = Parameters<PgSession['prepareQuery']>;

/** @internal runs a function in the async context captured when a builder was created. */
export type Context = <R>(fn: () => R) => R;

/** Internal members of Drizzle's prepared queries that builders set after `prepareQuery`. */
interface PreparedInternals {
  joinsNotNullableMap?: Record<string, boolean> | undefined;
  authToken?: unknown;
  setToken?(token: unknown): unknown;
  all?(placeholderValues?: Record<string, unknown>): Promise<unknown>;
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
