import type { Classification } from './classify.js';
import { currentFrame, transactionOf, withSession, withTransaction } from './context.js';
import { KoyoRouterError } from './errors.js';
import { Executor, type ExecuteOptions, type RunStatement } from './execution.js';
import { provablyNotRun, type PrimaryFollower, type Topology } from './failover.js';
import { isConnectionError } from './health.js';
import { RouterMetrics } from './metrics.js';
import { ReadYourWrites } from './read-your-writes.js';
import { ReplicaHealth } from './replica-health.js';
import { Decider, type RouteDecision, type RouteExplanation } from './route-decision.js';
import {
  checkNumber,
  resolveRouterOptions,
  type ResolvedRouterOptions,
  type RouterConfig,
} from './router-options.js';
import type { RouterStats } from './node-state.js';
import type { ReplicaStatus } from './strategy.js';
import { formatToken, parsePosition, type PositionLike } from './token.js';

export type { RouterNode } from './driver.js';
export type { ExecuteOptions, RunStatement } from './execution.js';
export type { NodeStats, RouterStats } from './node-state.js';
export { createRouter } from './create-router.js';
export type { RouteDecision, RouteExplanation } from './route-decision.js';
export type {
  MaxLag,
  ReadYourWritesOption,
  ResolvedRouterOptions,
  RouteLogEntry,
  RouterConfig,
  RouterOptions,
} from './router-options.js';

/**
 * The driver-agnostic routing core. Adapters (`@koyo/router/pg`, `@koyo/router/postgres`, the
 * Drizzle and Knex bindings) hand it their nodes and call {@link Router.execute} for each
 * statement; the router decides where it runs, retries, ejects and records writes. It is a facade
 * over the parts in `replica-health.ts`, `route-decision.ts`, `execution.ts` and
 * `read-your-writes.ts` (see the README's "How it works").
 *
 * @typeParam N - the adapter's node handle (e.g. `pg.Pool`).
 */
export class Router<N = unknown> {
  readonly #o: ResolvedRouterOptions<N>;
  readonly #health: ReplicaHealth<N>;
  readonly #ryw: ReadYourWrites<N>;
  readonly #decider: Decider<N>;
  readonly #executor: Executor<N>;
  readonly #follower: PrimaryFollower<N> | undefined;
  readonly #metrics: RouterMetrics | null;

  constructor(config: RouterConfig<N>) {
    const o = resolveRouterOptions(config);
    this.#o = o;
    const health = new ReplicaHealth<N>(o);
    this.#health = health;
    this.#ryw = new ReadYourWrites<N>(this, o.readYourWrites, health, () => this.#metrics);
    this.#decider = new Decider<N>(this, o, health, this.#ryw);
    this.#metrics = RouterMetrics.create(() => ({
      stats: this.stats(),
      replicas: this.replicaStatus(),
    }));
    health.startProbing();
    this.#follower = o.following ? health.follower() : undefined;
    this.#executor = new Executor<N>({
      o,
      health,
      ryw: this.#ryw,
      decider: this.#decider,
      follower: this.#follower,
      metrics: () => this.#metrics,
      transactionMode: () => void this.transactionMode(),
      transactionOf: (frame) => transactionOf(frame, this),
    });
  }

  /** The current primary's adapter handle (it changes after a failover). */
  get primaryHandle(): N {
    return this.#health.primary.node.handle;
  }

  /** The current replicas' adapter handles, in order. */
  get replicaHandles(): N[] {
    return this.#health.replicas.map((r) => r.node.handle);
  }

  /**
   * With a `primary` list or `discover`: asks every node whether it is in recovery now and applies
   * what it finds; resolves with the topology. Rejects with `SPLIT_BRAIN` when several nodes
   * accept writes and `NO_PRIMARY` when none does. The router also does this by itself (every
   * `probeIntervalMs`, and after a write fails because the primary went away). Without either
   * option it resolves with the fixed topology.
   */
  async discover(): Promise<Topology> {
    this.#checkOpen();
    if (this.#follower !== undefined) return this.#follower.discover();
    return { primary: this.#health.primary.node.name, replicas: this.replicaNames };
  }

  /**
   * For adapters: runs `fn` with the current primary's handle (e.g. to check out a client or open a
   * transaction). With a `primary` list or `discover`, it first waits for a failover under way, and
   * when `fn` fails in a way that proves it did nothing (connection refused; a standby's 25006) and
   * `started` (if given) is false, it waits for the new primary and calls `fn` again on it.
   */
  async withPrimary<T>(fn: (handle: N) => Promise<T>, started?: () => boolean): Promise<T> {
    this.#checkOpen();
    const follower = this.#follower;
    if (follower === undefined) return fn(this.#health.primary.node.handle);
    await follower.pending();
    const node = this.#health.primary.node;
    try {
      return await fn(node.handle);
    } catch (error) {
      return follower.again(
        node,
        error,
        (e) => provablyNotRun(e) && started?.() !== true,
        (primary) => fn(primary.handle),
      );
    }
  }

  /** Name of the primary node. */
  get primaryName(): string {
    return this.#health.primary.node.name;
  }

  /** Names of the replicas, in configuration order. */
  get replicaNames(): string[] {
    return this.#health.replicas.map((r) => r.node.name);
  }

  /** Classifies one SQL string with this router's volatile-function list (cached per text). */
  classify(sql: string): Classification {
    return this.#decider.classify(sql);
  }

  /**
   * Where `sql` would go now, without running anything (the decision of the next
   * {@link Router.execute} in this context, except that a read-your-writes read that would wait
   * for a replica is reported as going to the primary).
   *
   * @example
   * router.explain('SELECT * FROM jobs FOR UPDATE SKIP LOCKED'); // { target: 'primary', reason: 'classified:FOR UPDATE', ... }
   */
  explain(sql: string): RouteExplanation {
    const { target, node, reason, classification, replica } = this.#decider.route(
      sql,
      currentFrame(),
      'explain',
    ) as RouteDecision<N>;
    return { target, node, reason, classification, replica };
  }

  /**
   * Decides where `sql` runs in the current context. Synchronous unless read-your-writes has to
   * wait for a replica to replay a write. Does not count or log: {@link Router.execute} does.
   */
  route(sql: string): RouteDecision<N> | Promise<RouteDecision<N>> {
    this.#checkOpen();
    return this.#decider.route(sql, currentFrame(), 'route');
  }

  /**
   * Routes and runs one statement: decides the node, calls `run` with the decision, counts and logs
   * it, records writes for read-your-writes, ejects a replica that fails with a connection error and
   * retries the read on the next healthy replica it has not tried, then on the primary (at most
   * once per node), and retries a read that a replica rejects because it is in recovery
   * ({@link standbyRejection}: 25006, 40001, 55000 `recovery is in progress`, ...) on the primary.
   * `run` may be called once per node; writes are never retried. This is the hook for driver bindings (Drizzle, Knex): call it from the session or
   * driver layer with the statement's SQL and a function that runs it on the decided target.
   *
   * @example
   * const rows = await router.execute(text, (d) =>
   *   d.target === 'transaction' ? (d.transaction as pg.PoolClient).query(text, values) : d.handle!.query(text, values));
   */
  execute<R>(sql: string, run: RunStatement<N, R>, options?: ExecuteOptions<R>): Promise<R> {
    if (this.#health.closed) return Promise.reject(closedError());
    const frame = currentFrame();
    let decision: RouteDecision<N> | Promise<RouteDecision<N>>;
    try {
      decision =
        options?.pinned === undefined
          ? this.#decider.route(sql, frame, 'execute')
          : this.#decider.pinned(sql, options.pinned);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#executor.run(decision, sql, run, frame, options);
  }

  /**
   * What the current context does with an attempt to open a transaction: `'run'`, or `'skip'`
   * inside {@link skipTransactions}; throws `TRANSACTION_BLOCKED` inside {@link blockTransactions}.
   * Bindings call it before sending BEGIN or starting their transaction helper.
   */
  transactionMode(): 'run' | 'skip' {
    const policy = currentFrame().policy;
    if (policy === 'block') {
      throw new KoyoRouterError(
        'TRANSACTION_BLOCKED',
        'A transaction was opened inside blockTransactions(). Find the caller in the stack below, or wrap the code in skipTransactions() if it never writes.',
      );
    }
    return policy === 'skip' ? 'skip' : 'run';
  }

  /**
   * Runs `fn` with `handle` bound as this router's transaction: inside it, every statement routed by
   * this router (also through the outer pool or `sql`) gets `target: 'transaction'`, except reads
   * when `ignoreTransactions` is set. Does not send BEGIN/COMMIT: the caller does.
   *
   * @example
   * await router.inTransaction(client, async () => { ... });
   */
  inTransaction<T>(handle: unknown, fn: () => T): T {
    return withTransaction(this, handle, fn);
  }

  /**
   * Logs (never counts or runs) a statement a binding's driver sent on the primary by itself, such
   * as the COMMIT or ROLLBACK that ends postgres.js's `sql.begin()`, or a statement run on a
   * transaction's own handle, so the log shows a transaction from BEGIN to its end.
   *
   * @example
   * router.logStatement('COMMIT', 'in-transaction');
   */
  logStatement(sql: string, reason: string): void {
    const node = this.#health.primary.node.name;
    this.#o.logger?.(`Primary: ${node} (${reason}) ${sql}`, {
      event: 'query',
      node,
      role: 'primary',
      reason,
      sql,
      error: undefined,
    });
  }

  /** The transaction handle bound for this router in the current context, if any. */
  currentTransaction(): unknown {
    return transactionOf(currentFrame(), this);
  }

  /**
   * Binds `handle` as this router's transaction in the current {@link withSession} session until
   * {@link Router.detachTransaction}: the path for a raw `BEGIN` on a checked-out client. Returns
   * false (and binds nothing) outside a session.
   */
  attachTransaction(handle: unknown): boolean {
    const session = currentFrame().session;
    if (session === undefined) return false;
    session.transactions.set(this, handle);
    return true;
  }

  /** Undoes {@link Router.attachTransaction} for `handle`, wherever it was attached. */
  detachTransaction(handle: unknown): void {
    const session = currentFrame().session;
    if (session !== undefined && session.transactions.get(this) === handle)
      session.transactions.delete(this);
  }

  /**
   * Records that a write committed, for read-your-writes: in `lsn` mode asks the primary for its WAL
   * position, in `window` mode notes the time. The adapters call it after autocommit writes and
   * after COMMIT; bindings call it after their own transactions commit. No-op without
   * read-your-writes.
   */
  async noteWrite(): Promise<void> {
    await this.#ryw.noteWrite(currentFrame());
  }

  /**
   * The read-your-writes position of the current context as a string (e.g. for a cookie), or
   * undefined when nothing was written. Restore it in another request with {@link Router.withToken}.
   */
  readYourWritesToken(): string | undefined {
    const mark = this.#ryw.peek(currentFrame());
    if (mark === undefined || mark.at === 0) return undefined;
    return formatToken(mark);
  }

  /**
   * Runs `fn` in a new session whose read-your-writes position is `token` (from
   * {@link Router.readYourWritesToken}). An undefined or empty token just starts a session. Throws
   * `INVALID_TOKEN` for anything this router cannot have produced.
   *
   * @example
   * await router.withToken(req.cookies.koyo, () => handler(req, res));
   */
  withToken<T>(token: string | undefined, fn: () => T): T {
    const parsed = token === undefined || token === '' ? undefined : parsePosition(token);
    return withSession(() => {
      if (parsed !== undefined) this.#ryw.advance(this.#ryw.mark(currentFrame()), parsed);
      return fn();
    });
  }

  /**
   * Causal reads: runs `fn` so that its reads go to a replica that has replayed `position`, waiting
   * up to `waitMs` (default: `readYourWrites.waitMs`, else 200) for one, else to the primary. The
   * position is a token from {@link Router.readYourWritesToken} (e.g. sent by another service), a
   * change's `commitLsn` from a koyo handler, or any LSN (`'16/B374D848'` or a `bigint`). Works
   * whether or not `readYourWrites` is on. Inside a session (a request under the middleware,
   * {@link Router.withToken}, or another `readAfter`) it raises that session's position, so later
   * reads and the response token keep it; elsewhere it starts a session for `fn`. Throws
   * `INVALID_TOKEN` for anything that is neither a token nor an LSN.
   *
   * @example
   * dispatcher.onTable('orders', (change) =>
   *   pool.router.readAfter(change.commitLsn, () =>
   *     pool.query('SELECT * FROM orders WHERE id = $1', [change.key.id]),
   *   ),
   * );
   */
  readAfter<T>(position: PositionLike, fn: () => T, options: { waitMs?: number } = {}): T {
    const parsed = parsePosition(position);
    checkNumber('readAfter waitMs', options.waitMs, 0);
    const enter = (): T => {
      const mark = this.#ryw.mark(currentFrame());
      this.#ryw.advance(mark, parsed);
      if (options.waitMs !== undefined) mark.waitMs = Math.max(mark.waitMs ?? 0, options.waitMs);
      return fn();
    };
    return currentFrame().session === undefined ? withSession(enter) : enter();
  }

  /** Health and lag of each replica as last probed. */
  replicaStatus(): ReplicaStatus[] {
    return this.#health.replicas.map((r) => r.status());
  }

  /** Counters per node and for the router. */
  stats(): RouterStats {
    return {
      primary: this.#health.primary.stats(),
      replicas: this.#health.replicas.map((r) => r.stats()),
      fallbacks: this.#executor.fallbacks,
      retries: this.#executor.retries,
      readYourWrites: this.#executor.rywCount,
      failovers: this.#follower?.failovers ?? 0,
    };
  }

  /**
   * Probes now (health of ejected replicas whose `ejectMs` passed, and lag when lag matters) and
   * resolves with the replicas' status. The router also does this every `probeIntervalMs`.
   */
  async probe(): Promise<ReplicaStatus[]> {
    await this.#health.tick();
    return this.replicaStatus();
  }

  /** Stops probing; later statements reject with `CLOSED`. The adapters' `end()` calls it. */
  close(): void {
    this.#health.close();
    this.#metrics?.close();
    this.#follower?.close();
  }

  /**
   * Resolves when every statement started through {@link Router.execute} and every probe has
   * settled (resolved or rejected). Adapters call it after {@link Router.close} so that `end()`
   * can close connections without cutting off a routed statement.
   */
  settled(): Promise<void> {
    return this.#health.settled();
  }

  /** True after {@link Router.close}. */
  get closed(): boolean {
    return this.#health.closed;
  }

  /**
   * For adapters: a connection error surfaced outside a routed statement (e.g. an idle connection
   * of replica `index` died). Ejects the replica when `error` is connection-class.
   */
  reportConnectionError(index: number, error: unknown): void {
    const node = this.#health.replicas[index];
    if (node !== undefined && isConnectionError(error)) this.#health.eject(node, error);
  }

  #checkOpen(): void {
    if (this.#health.closed) throw closedError();
  }
}

function closedError(): KoyoRouterError {
  return new KoyoRouterError('CLOSED', 'This router was closed with end(); create a new one.');
}
