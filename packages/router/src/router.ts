import { createClassifier, type Classification, type Classifier } from './classify.js';
import {
  currentFrame,
  getDefaultRole,
  storage,
  transactionOf,
  withSession,
  withTransaction,
  type Frame,
  type Role,
  type WriteMark,
} from './context.js';
import { KoyoRouterError } from './errors.js';
import { PrimaryFollower, provablyNotRun, type FollowOptions, type Topology } from './failover.js';
import { isConnectionError, withTimeout } from './health.js';
import { formatBytes, formatLsn, parseLsn } from './lsn.js';
import { RouterMetrics } from './metrics.js';
import { standbyRejection } from './standby-errors.js';
import { formatToken, parsePosition, type PositionLike, type ReadPosition } from './token.js';
import { selectReplica, type ReplicaStatus, type Strategy } from './strategy.js';

/** One database node as an adapter hands it to {@link createRouter}. */
export interface RouterNode<N> {
  /** Name used in logs, reasons and counters, e.g. `primary`, `replica1`. */
  readonly name: string;
  /** The adapter's handle for this node (a `pg.Pool`, a postgres.js `sql`, a Knex client...). */
  readonly handle: N;
  /** Weight for the `weighted` strategy (replicas only). Default 1. */
  readonly weight?: number;
  /**
   * Runs one parameterless statement on this node and returns the first column of the first row
   * as text (or null). Used for health and lag probes only.
   */
  probe(sql: string): Promise<string | null>;
}

/** Bound on replica lag; a replica beyond it gets no reads until it catches up. */
export interface MaxLag {
  /** WAL bytes the replica has not replayed yet (`pg_current_wal_lsn()` - `pg_last_wal_replay_lsn()`). */
  readonly bytes?: number;
  /** How long ago the primary was at the position the replica has replayed, in milliseconds. */
  readonly ms?: number;
}

/** Read-your-writes: how reads after a write avoid stale replicas. */
export type ReadYourWritesOption =
  | false
  /** Record the primary's WAL position after each write; later reads wait up to `waitMs` (default 200) for a replica that replayed it, else go to the primary. */
  | { readonly mode: 'lsn'; readonly waitMs?: number }
  /** Send reads to the primary for `ms` after each write. */
  | { readonly mode: 'window'; readonly ms: number };

/** One event for {@link RouterOptions.logger}. */
export interface RouteLogEntry {
  /**
   * `query` for a routed statement; the others are health events (`failover`: another node became
   * the primary or the replica set changed; `split-brain`: several nodes accept writes).
   */
  readonly event: 'query' | 'retry' | 'eject' | 'reinstate' | 'failover' | 'split-brain';
  /** Node the statement ran on or the event is about. */
  readonly node: string;
  /** `primary` or `replica` (statements inside a transaction run on the primary). */
  readonly role: Role;
  /** Why, e.g. `classified:SELECT`, `in-transaction`, `lag>1MB`, `read-your-writes`. */
  readonly reason: string;
  /** The statement, for `query` and `retry`. */
  readonly sql: string | undefined;
  /** The error behind a `retry` or `eject`. */
  readonly error: unknown;
}

/** Options of {@link createRouter}, shared by the adapters. */
export interface RouterOptions extends FollowOptions {
  /** How a replica is picked for a read: a built-in name or your own function. Default `'random'`. */
  readonly strategy?: Strategy;
  /** Role of reads outside any scope; default: the process-wide {@link setDefaultRole} (itself `'replica'`). */
  readonly defaultRole?: Role;
  /** Send reads inside a transaction to replicas anyway (the gem's `ignore_transactions`). Default false. */
  readonly ignoreTransactions?: boolean;
  /** With no usable replica: `'primary'` (default) reads from the primary, `'error'` throws `NO_REPLICA_AVAILABLE`. */
  readonly fallback?: 'primary' | 'error';
  /** How long a replica that failed with a connection error gets no reads before it is probed again. Default 5000. */
  readonly ejectMs?: number;
  /** Skip replicas that lag more than this. Default: no bound. */
  readonly maxLag?: MaxLag;
  /** Period of health and lag probes in milliseconds. Default 1000. */
  readonly probeIntervalMs?: number;
  /** Longest a probe may take before it counts as a failure. Default 2000. */
  readonly probeTimeoutMs?: number;
  /** Read-your-writes mode. Default false. */
  readonly readYourWrites?: ReadYourWritesOption;
  /** Functions that make a statement a write; default `DEFAULT_VOLATILE_FUNCTIONS`. */
  readonly volatileFunctions?: readonly string[];
  /**
   * Called for every routed statement and health event with a line in the gem's style
   * (`Replica: replica1 (classified:SELECT) SELECT ...`, `Primary: primary (in-transaction) ...`).
   */
  readonly logger?: (line: string, entry: RouteLogEntry) => void;
}

/**
 * What {@link createRouter} takes: the nodes and the {@link RouterOptions}. `primary` is one node,
 * or a list of candidates of which the router uses the one that is not in recovery (following it
 * across failovers); a node object given both as a candidate and a replica is the same node.
 */
export type RouterConfig<N> = {
  readonly primary: RouterNode<N> | readonly RouterNode<N>[];
  readonly replicas: readonly RouterNode<N>[];
} & RouterOptions;

/** Where one statement goes, as decided by {@link Router.route} or {@link Router.explain}. */
export interface RouteDecision<N = unknown> {
  /** `transaction`: run it on the transaction handle bound in the context (on the primary). */
  readonly target: 'primary' | 'replica' | 'transaction';
  /** Name of the node. */
  readonly node: string;
  /** Why, e.g. `classified:SELECT`, `classified:FOR UPDATE`, `in-transaction`, `read-from-primary`, `lag>1MB`. */
  readonly reason: string;
  /** The classifier's verdict on the statement. */
  readonly classification: Classification;
  /** The node's adapter handle (`undefined` for `transaction`). */
  readonly handle: N | undefined;
  /** The transaction handle, for `transaction`. */
  readonly transaction: unknown;
  /** Index of the replica, or -1. */
  readonly replica: number;
}

/**
 * What {@link Router.explain} reports: the decision without the node's handle (a whole pool) or
 * the transaction handle, so it prints and serialises as a short plain object.
 *
 * @example
 * console.log(router.explain('SELECT 1')); // { target: 'replica', node: 'replica1', reason: 'classified:SELECT', ... }
 */
export type RouteExplanation = Omit<RouteDecision, 'handle' | 'transaction'>;

/** Options of {@link Router.execute}. */
export interface ExecuteOptions<R> {
  /**
   * Run on this connection (a client checked out from the primary) instead of routing: the
   * statement is counted and logged on the primary with reason `pinned-connection`, and
   * skip/block transaction policies and read-your-writes still apply.
   */
  readonly pinned?: unknown;
  /** With `pinned`: the connection has an open transaction (so a write is recorded at COMMIT). */
  readonly inTransaction?: boolean;
  /** Result to return for a BEGIN/COMMIT/ROLLBACK suppressed by `skipTransactions`. Default undefined. */
  readonly skip?: () => R;
  /**
   * For a `run` that calls code of the app (a transaction callback): returns true once it did.
   * After a failover the router runs the statement again on the new primary only when the attempt
   * provably did not run; this makes "the callback was called" count as "it may have run".
   */
  readonly started?: () => boolean;
}

/** Counters of one node. */
export interface NodeStats {
  readonly name: string;
  /** Statements run here (retries included). */
  readonly queries: number;
  /** ... of which classified as reads. */
  readonly reads: number;
  /** ... of which classified as writes. */
  readonly writes: number;
  /** Statements that failed here. */
  readonly errors: number;
  /** Times this node was ejected. */
  readonly ejections: number;
}

/** Counters of a router: {@link Router.stats}. */
export interface RouterStats {
  readonly primary: NodeStats;
  readonly replicas: readonly NodeStats[];
  /** Reads that wanted a replica and went to the primary because none was usable. */
  readonly fallbacks: number;
  /** Retry attempts of reads after a replica failed (connection error, or rejected by a standby in recovery). */
  readonly retries: number;
  /** Reads sent to the primary by read-your-writes. */
  readonly readYourWrites: number;
  /** Times another node became the primary (with a `primary` list or `discover`). */
  readonly failovers: number;
}

class NodeState<N> {
  queries = 0;
  reads = 0;
  writes = 0;
  errors = 0;
  ejections = 0;
  ejectedUntil: number | undefined = undefined;
  lastError: unknown = undefined;
  replayLsn: bigint | undefined = undefined;
  lagBytes: number | undefined = undefined;
  lagMs: number | undefined = undefined;
  withinLag = true;
  constructor(
    readonly node: RouterNode<N>,
    /** Position among the replicas, -1 for the primary (changes after a failover). */
    public index: number,
  ) {}

  status(): ReplicaStatus {
    return {
      name: this.node.name,
      index: this.index,
      weight: this.node.weight ?? 1,
      healthy: this.ejectedUntil === undefined,
      ejectedUntil: this.ejectedUntil,
      withinLag: this.withinLag,
      lagBytes: this.lagBytes,
      lagMs: this.lagMs,
      replayLsn: this.replayLsn === undefined ? undefined : formatLsn(this.replayLsn),
      lastError: this.lastError,
    };
  }

  stats(): NodeStats {
    return {
      name: this.node.name,
      queries: this.queries,
      reads: this.reads,
      writes: this.writes,
      errors: this.errors,
      ejections: this.ejections,
    };
  }
}

const CACHE_SIZE = 2000;
const CACHE_MAX_LENGTH = 4096;
const NO_CLASSIFICATION: Classification = Object.freeze({
  role: 'write',
  reason: 'classified:none',
  command: 'UNKNOWN',
  transactionControl: null,
});

/**
 * The driver-agnostic routing core. Adapters (`@koyo/router/pg`, `@koyo/router/postgres`, the
 * Drizzle and Knex bindings) hand it their nodes and call {@link Router.execute} for each
 * statement; the router decides where it runs, retries, ejects and records writes.
 *
 * @typeParam N - the adapter's node handle (e.g. `pg.Pool`).
 */
export class Router<N = unknown> {
  #primary: NodeState<N>;
  #replicas: NodeState<N>[];
  /** Every node's state, by node (they keep their counters across role changes). */
  readonly #states = new Map<RouterNode<N>, NodeState<N>>();
  readonly #follower: PrimaryFollower<N> | undefined;
  readonly #probeIntervalMs: number;
  #eligible: NodeState<N>[];
  #fallbackReason = 'replicas-unavailable';
  readonly #classifier: Classifier;
  readonly #cache = new Map<string, Classification>();
  readonly #strategy: Strategy;
  readonly #defaultRole: Role | undefined;
  readonly #ignoreTransactions: boolean;
  readonly #fallback: 'primary' | 'error';
  readonly #ejectMs: number;
  readonly #maxLag: MaxLag | undefined;
  readonly #probeTimeoutMs: number;
  readonly #ryw: ReadYourWritesOption;
  readonly #logger: RouterOptions['logger'];
  readonly #needLag: boolean;
  readonly #rr = { next: 0 };
  readonly #samples: { lsn: bigint; at: number }[] = [];
  readonly #globalMark: WriteMark = { lsn: undefined, at: 0 };
  #timer: NodeJS.Timeout | undefined;
  #probing: Promise<void> | undefined;
  #closed = false;
  /** Statements and probes started and not settled yet (see {@link Router.settled}). */
  readonly #pending = new Set<Promise<unknown>>();
  #fallbacks = 0;
  #retries = 0;
  #rywCount = 0;
  readonly #metrics: RouterMetrics | null;

  constructor(config: RouterConfig<N>) {
    const o = config;
    if (
      o.primary === undefined ||
      o.primary === null ||
      (Array.isArray(o.primary) && o.primary.length === 0)
    ) {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        'primary: required (the node that takes writes, or a non-empty list of candidates).',
      );
    }
    if (!Array.isArray(o.replicas)) {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        'replicas: expected an array of nodes (it may be empty).',
      );
    }
    checkChoice('strategy', o.strategy, ['random', 'round-robin', 'weighted', 'least-lag'], true);
    checkChoice('defaultRole', o.defaultRole, ['primary', 'replica']);
    checkChoice('fallback', o.fallback, ['primary', 'error']);
    checkNumber('ejectMs', o.ejectMs, 0);
    checkNumber('probeIntervalMs', o.probeIntervalMs, 1);
    checkNumber('probeTimeoutMs', o.probeTimeoutMs, 1);
    checkNumber('failoverMs', o.failoverMs, 0);
    if (o.maxLag !== undefined) {
      if (
        typeof o.maxLag !== 'object' ||
        o.maxLag === null ||
        (o.maxLag.bytes === undefined && o.maxLag.ms === undefined)
      ) {
        throw new KoyoRouterError(
          'INVALID_OPTION',
          'maxLag: expected { bytes?: number, ms?: number } with at least one of them.',
        );
      }
      checkNumber('maxLag.bytes', o.maxLag.bytes, 0);
      checkNumber('maxLag.ms', o.maxLag.ms, 0);
    }
    const ryw = o.readYourWrites ?? false;
    if (ryw !== false) {
      if (
        typeof ryw !== 'object' ||
        ryw === null ||
        (ryw.mode !== 'lsn' && ryw.mode !== 'window')
      ) {
        throw new KoyoRouterError(
          'INVALID_OPTION',
          "readYourWrites: expected false, { mode: 'lsn', waitMs? } or { mode: 'window', ms }.",
        );
      }
      if (ryw.mode === 'lsn') checkNumber('readYourWrites.waitMs', ryw.waitMs, 0);
      else {
        if (typeof ryw.ms !== 'number')
          throw new KoyoRouterError(
            'INVALID_OPTION',
            "readYourWrites: { mode: 'window' } needs ms.",
          );
        checkNumber('readYourWrites.ms', ryw.ms, 0);
      }
    }
    o.replicas.forEach((replica, i) => {
      if (
        replica.weight !== undefined &&
        !(replica.weight > 0 && Number.isFinite(replica.weight))
      ) {
        throw new KoyoRouterError(
          'INVALID_OPTION',
          `replicas[${i}].weight: expected a positive number, got ${String(replica.weight)}.`,
        );
      }
    });
    this.#classifier = createClassifier(
      o.volatileFunctions === undefined ? {} : { volatileFunctions: o.volatileFunctions },
    );
    const candidates: readonly RouterNode<N>[] = Array.isArray(o.primary)
      ? o.primary
      : [o.primary as RouterNode<N>];
    const nodes = [...new Set([...candidates, ...o.replicas])];
    for (const node of nodes) this.#states.set(node, new NodeState(node, -1));
    const following = Array.isArray(o.primary) || o.discover === true;
    if (following && new Set(nodes.map((n) => n.name)).size !== nodes.length) {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        `Node names must be unique to follow the primary; got ${nodes.map((n) => n.name).join(', ')}.`,
      );
    }
    this.#primary = this.#states.get(candidates[0]!)!;
    this.#replicas = [];
    this.#eligible = [];
    this.#setTopology(
      candidates[0]!,
      o.replicas.filter((node) => node !== candidates[0]),
    );
    this.#strategy = o.strategy ?? 'random';
    this.#defaultRole = o.defaultRole;
    this.#ignoreTransactions = o.ignoreTransactions ?? false;
    this.#fallback = o.fallback ?? 'primary';
    this.#ejectMs = o.ejectMs ?? 5000;
    this.#maxLag = o.maxLag;
    this.#probeTimeoutMs = o.probeTimeoutMs ?? 2000;
    this.#ryw = ryw;
    this.#logger = o.logger;
    this.#needLag =
      o.maxLag !== undefined ||
      this.#strategy === 'least-lag' ||
      typeof this.#strategy === 'function' ||
      (ryw !== false && ryw.mode === 'lsn');
    this.#metrics = RouterMetrics.create(() => ({
      stats: this.stats(),
      replicas: this.replicaStatus(),
    }));
    this.#probeIntervalMs = o.probeIntervalMs ?? 1000;
    this.#startProbing();
    this.#follower = following
      ? new PrimaryFollower<N>({
          nodes,
          candidates: new Set(candidates),
          listedReplicas: o.replicas,
          discover: o.discover === true,
          failoverMs: o.failoverMs ?? 30_000,
          intervalMs: this.#probeIntervalMs,
          current: () => ({
            primary: this.#primary.node,
            replicas: this.#replicas.map((r) => r.node),
          }),
          apply: (primary, replicas) => {
            this.#setTopology(primary, replicas);
            this.#startProbing();
          },
          probe: (node, sql) => this.#probeNode(this.#states.get(node)!, sql),
          log: (line, event, node, error) =>
            this.#logger?.(line, {
              event,
              node,
              role: 'primary',
              reason: event,
              sql: undefined,
              error,
            }),
          closed: () => this.#closed,
        })
      : undefined;
  }

  #startProbing(): void {
    if (this.#timer !== undefined || this.#replicas.length === 0 || this.#closed) return;
    this.#timer = setInterval(() => void this.#tick(), this.#probeIntervalMs);
    this.#timer.unref();
    if (this.#needLag) void this.#tick();
  }

  /** Makes `primary` the primary and `replicas` the replica set (states keep their counters). */
  #setTopology(primary: RouterNode<N>, replicas: readonly RouterNode<N>[]): void {
    this.#primary = this.#states.get(primary)!;
    this.#primary.index = -1;
    this.#replicas = replicas.map((node, i) => {
      const state = this.#states.get(node)!;
      state.index = i;
      return state;
    });
    this.#samples.length = 0;
    this.#recompute();
  }

  /** The current primary's adapter handle (it changes after a failover). */
  get primaryHandle(): N {
    return this.#primary.node.handle;
  }

  /** The current replicas' adapter handles, in order. */
  get replicaHandles(): N[] {
    return this.#replicas.map((r) => r.node.handle);
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
    return { primary: this.#primary.node.name, replicas: this.replicaNames };
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
    if (follower === undefined) return fn(this.#primary.node.handle);
    await follower.pending();
    const node = this.#primary.node;
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
    return this.#primary.node.name;
  }

  /** Names of the replicas, in configuration order. */
  get replicaNames(): string[] {
    return this.#replicas.map((r) => r.node.name);
  }

  /** Classifies one SQL string with this router's volatile-function list (cached per text). */
  classify(sql: string): Classification {
    return this.#classify(sql);
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
    const { target, node, reason, classification, replica } = this.#route(
      sql,
      currentFrame(),
      true,
    ) as RouteDecision<N>;
    return { target, node, reason, classification, replica };
  }

  /**
   * Decides where `sql` runs in the current context. Synchronous unless read-your-writes has to
   * wait for a replica to replay a write. Does not count or log: {@link Router.execute} does.
   */
  route(sql: string): RouteDecision<N> | Promise<RouteDecision<N>> {
    this.#checkOpen();
    return this.#route(sql, currentFrame(), false);
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
  execute<R>(
    sql: string,
    run: (decision: RouteDecision<N>) => R | PromiseLike<R>,
    options?: ExecuteOptions<R>,
  ): Promise<R> {
    if (this.#closed) return Promise.reject(closedError());
    const frame = currentFrame();
    let decision: RouteDecision<N> | Promise<RouteDecision<N>>;
    if (options?.pinned !== undefined) {
      const c = this.#classify(sql);
      decision = this.#decision(
        'transaction',
        this.#primary,
        'pinned-connection',
        c,
        options.pinned,
      );
    } else {
      try {
        decision = this.#route(sql, frame, false);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (decision instanceof Promise)
      return this.#track(decision.then((d) => this.#run(d, sql, run, frame, options)));
    return this.#track(this.#run(decision, sql, run, frame, options));
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
    const node = this.#primary.node.name;
    this.#logger?.(`Primary: ${node} (${reason}) ${sql}`, {
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
    const ryw = this.#ryw;
    if (ryw === false) return;
    const mark = this.#mark(currentFrame());
    mark.at = Date.now();
    if (ryw.mode !== 'lsn') return;
    try {
      const text = await this.#probeNode(this.#primary, 'SELECT pg_current_wal_lsn()::text');
      if (text !== null) {
        const lsn = parseLsn(text);
        if (mark.lsn === undefined || lsn > mark.lsn) mark.lsn = lsn;
      }
    } catch {
      // Unknown position: reads go to the primary for waitMs (see #route).
      mark.lsn = undefined;
    }
  }

  /**
   * The read-your-writes position of the current context as a string (e.g. for a cookie), or
   * undefined when nothing was written. Restore it in another request with {@link Router.withToken}.
   */
  readYourWritesToken(): string | undefined {
    const mark = this.#peekMark(currentFrame());
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
      if (parsed !== undefined) this.#advance(this.#mark(currentFrame()), parsed);
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
      const mark = this.#mark(currentFrame());
      this.#advance(mark, parsed);
      if (options.waitMs !== undefined) mark.waitMs = Math.max(mark.waitMs ?? 0, options.waitMs);
      return fn();
    };
    return currentFrame().session === undefined ? withSession(enter) : enter();
  }

  #advance(mark: WriteMark, position: ReadPosition): void {
    mark.at = Math.max(mark.at, position.at);
    if (position.lsn !== undefined && (mark.lsn === undefined || position.lsn > mark.lsn))
      mark.lsn = position.lsn;
  }

  /** Health and lag of each replica as last probed. */
  replicaStatus(): ReplicaStatus[] {
    return this.#replicas.map((r) => r.status());
  }

  /** Counters per node and for the router. */
  stats(): RouterStats {
    return {
      primary: this.#primary.stats(),
      replicas: this.#replicas.map((r) => r.stats()),
      fallbacks: this.#fallbacks,
      retries: this.#retries,
      readYourWrites: this.#rywCount,
      failovers: this.#follower?.failovers ?? 0,
    };
  }

  /**
   * Probes now (health of ejected replicas whose `ejectMs` passed, and lag when lag matters) and
   * resolves with the replicas' status. The router also does this every `probeIntervalMs`.
   */
  async probe(): Promise<ReplicaStatus[]> {
    await this.#tick();
    return this.replicaStatus();
  }

  /** Stops probing; later statements reject with `CLOSED`. The adapters' `end()` calls it. */
  close(): void {
    this.#closed = true;
    this.#metrics?.close();
    this.#follower?.close();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Resolves when every statement started through {@link Router.execute} and every probe has
   * settled (resolved or rejected). Adapters call it after {@link Router.close} so that `end()`
   * can close connections without cutting off a routed statement.
   */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** True after {@link Router.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Classifies with a bounded cache: apps and ORMs send the same parameterized texts over and
   * over, and a Map hit costs less than lexing them again.
   */
  #classify(sql: string): Classification {
    if (typeof sql !== 'string') return NO_CLASSIFICATION;
    if (sql.length > CACHE_MAX_LENGTH) return this.#classifier.classify(sql);
    let c = this.#cache.get(sql);
    if (c === undefined) {
      c = this.#classifier.classify(sql);
      if (this.#cache.size >= CACHE_SIZE) this.#cache.clear();
      this.#cache.set(sql, c);
    }
    return c;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }

  #decision(
    target: 'primary' | 'replica' | 'transaction',
    node: NodeState<N>,
    reason: string,
    c: Classification,
    tx?: unknown,
  ): RouteDecision<N> {
    return {
      target,
      node: node.node.name,
      reason,
      classification: c,
      handle: target === 'transaction' ? undefined : node.node.handle,
      transaction: tx,
      replica: node.index,
    };
  }

  #route(sql: string, frame: Frame, dryRun: boolean): RouteDecision<N> | Promise<RouteDecision<N>> {
    const c = this.#classify(sql);
    const tx =
      frame.transactions === undefined && frame.session === undefined
        ? undefined
        : transactionOf(frame, this);
    if (tx === undefined) return this.#routeOutside(sql, c, frame, dryRun);
    if (!(this.#ignoreTransactions && c.role === 'read'))
      return this.#decision('transaction', this.#primary, 'in-transaction', c, tx);
    // ignoreTransactions: the read may go to a replica; if it goes to the primary anyway
    // (readFromPrimary, fallback, ...), it uses the transaction's connection, which sees its writes.
    const toTx = (d: RouteDecision<N>): RouteDecision<N> =>
      d.target === 'primary' ? this.#decision('transaction', this.#primary, d.reason, c, tx) : d;
    const d = this.#routeOutside(sql, c, frame, dryRun);
    return d instanceof Promise ? d.then(toTx) : toTx(d);
  }

  #routeOutside(
    sql: string,
    c: Classification,
    frame: Frame,
    dryRun: boolean,
  ): RouteDecision<N> | Promise<RouteDecision<N>> {
    if (c.role === 'write') return this.#decision('primary', this.#primary, c.reason, c);
    if (this.#replicas.length === 0)
      return this.#decision('primary', this.#primary, 'no-replicas', c);
    if (frame.role === 'primary')
      return this.#decision('primary', this.#primary, 'read-from-primary', c);
    if (frame.role === undefined && (this.#defaultRole ?? getDefaultRole()) === 'primary') {
      return this.#decision('primary', this.#primary, 'default-role', c);
    }
    const mark = this.#peekMark(frame);
    if (mark !== undefined && mark.at !== 0) {
      // A known position (own write in lsn mode, a token or readAfter) is waited for in any mode.
      if (mark.lsn !== undefined)
        return this.#routeAfter(sql, c, mark.lsn, this.#waitMs(mark), dryRun);
      const ryw = this.#ryw;
      const windowMs =
        ryw === false ? 0 : ryw.mode === 'window' ? ryw.ms : Math.max(ryw.waitMs ?? 200, 1000);
      if (Date.now() - mark.at < windowMs)
        return this.#decision('primary', this.#primary, 'read-your-writes', c);
    }
    return this.#pick(sql, c, this.#eligible);
  }

  #pick(sql: string, c: Classification, candidates: readonly NodeState<N>[]): RouteDecision<N> {
    const chosen =
      candidates.length === 0 && typeof this.#strategy !== 'function'
        ? undefined
        : this.#select(sql, c, candidates);
    if (chosen !== undefined) return this.#decision('replica', chosen, c.reason, c);
    return this.#fallbackDecision(c);
  }

  /** The read goes to the primary, or throws `NO_REPLICA_AVAILABLE` with `fallback: 'error'`. */
  #fallbackDecision(c: Classification): RouteDecision<N> {
    if (this.#fallback === 'error') {
      throw new KoyoRouterError(
        'NO_REPLICA_AVAILABLE',
        `No replica can take this read (${this.#fallbackReason}) and fallback is 'error'. Use fallback: 'primary' to read from the primary instead.`,
        { cause: this.#replicas.find((r) => r.lastError !== undefined)?.lastError },
      );
    }
    return this.#decision('primary', this.#primary, this.#fallbackReason, c);
  }

  #select(
    sql: string,
    c: Classification,
    candidates: readonly NodeState<N>[],
  ): NodeState<N> | undefined {
    const strategy = this.#strategy;
    if (typeof strategy === 'function') {
      const eligible = new Set(candidates);
      const statuses = this.#replicas.map((r) => ({
        ...r.status(),
        healthy: eligible.has(r) ? r.ejectedUntil === undefined : false,
      }));
      const picked = strategy({ kind: 'read', command: c.command, sql }, statuses);
      if (picked === null || picked === undefined) return undefined;
      const index =
        typeof picked === 'number'
          ? picked
          : typeof picked === 'string'
            ? this.#replicas.findIndex((r) => r.node.name === picked)
            : picked.index;
      const node = this.#replicas[index];
      if (node === undefined) {
        throw new KoyoRouterError(
          'INVALID_OPTION',
          `strategy: the function returned ${JSON.stringify(picked)}, which is not one of the replicas.`,
        );
      }
      return node;
    }
    return selectReplica(strategy, candidates, this.#rr);
  }

  async #routeAfter(
    sql: string,
    c: Classification,
    lsn: bigint,
    waitMs: number,
    dryRun: boolean,
  ): Promise<RouteDecision<N>> {
    const ready = (): NodeState<N>[] =>
      this.#eligible.filter((r) => r.replayLsn !== undefined && r.replayLsn >= lsn);
    let caughtUp = ready();
    if (caughtUp.length > 0) return this.#pick(sql, c, caughtUp);
    if (dryRun || waitMs === 0 || this.#eligible.length === 0) {
      return this.#decision('primary', this.#primary, 'read-your-writes', c);
    }
    const started = Date.now();
    const deadline = started + waitMs;
    let pause = 2;
    for (;;) {
      await Promise.all(
        this.#eligible.map(async (r) => {
          try {
            const text = await this.#probeNode(r, 'SELECT pg_last_wal_replay_lsn()::text');
            if (text !== null) {
              const replay = parseLsn(text);
              if (r.replayLsn === undefined || replay > r.replayLsn) r.replayLsn = replay;
            }
          } catch (error) {
            if (isConnectionError(error)) this.#eject(r, error);
          }
        }),
      );
      caughtUp = ready();
      if (caughtUp.length > 0) {
        this.#metrics?.rywWait(Date.now() - started, 'replica');
        return this.#pick(sql, c, caughtUp);
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, 50);
    }
    this.#metrics?.rywWait(Date.now() - started, 'primary');
    return this.#decision('primary', this.#primary, 'read-your-writes', c);
  }

  async #run<R>(
    decided: RouteDecision<N>,
    sql: string,
    run: (decision: RouteDecision<N>) => R | PromiseLike<R>,
    frame: Frame,
    options: ExecuteOptions<R> | undefined,
  ): Promise<R> {
    let d = decided;
    const waiting = d.target === 'primary' ? this.#follower?.pending() : undefined;
    if (waiting !== undefined) {
      await waiting;
      d = this.#decision('primary', this.#primary, d.reason, d.classification);
    }
    const node = this.#stateOf(d);
    const control = d.classification.transactionControl;
    if (control !== null && frame.policy !== 'allow' && d.classification.command !== 'MULTI') {
      if (frame.policy === 'block' && control === 'begin')
        storage.run(frame, () => this.transactionMode());
      if (frame.policy === 'skip') {
        this.#count(
          node,
          { ...d, reason: 'skipped:skipTransactions' },
          sql,
          'query',
          undefined,
          true,
        );
        return options?.skip === undefined ? (undefined as R) : options.skip();
      }
    }
    this.#count(node, d, sql, 'query');
    let result: R;
    try {
      result = await run(d);
    } catch (error) {
      node.errors++;
      if (d.target === 'replica') return this.#retry(d, node, sql, run, frame, error);
      if (this.#follower === undefined) throw error;
      if (d.target !== 'primary') {
        this.#follower.notice(error);
        throw error;
      }
      const retried = await this.#failover(d, node, sql, run, options, error);
      d = retried.d;
      result = retried.result;
    }
    if (this.#ryw !== false && this.#wrote(d, options))
      await storage.run(frame, () => this.noteWrite());
    return result;
  }

  /** The state of the node a decision names (the topology may have changed since). */
  #stateOf(d: RouteDecision<N>): NodeState<N> {
    const state = d.replica < 0 ? this.#primary : this.#replicas[d.replica];
    if (state !== undefined && state.node.name === d.node) return state;
    for (const s of this.#states.values()) if (s.node.name === d.node) return s;
    return this.#primary;
  }

  /**
   * A statement failed on the primary of a router that follows the primary: re-discovers when the
   * error means the node is not the primary any more, and runs the statement again on the new
   * primary only when it provably did not run (a read always may: it changes nothing). At most
   * once per node.
   */
  #failover<R>(
    first: RouteDecision<N>,
    failed: NodeState<N>,
    sql: string,
    run: (decision: RouteDecision<N>) => R | PromiseLike<R>,
    options: ExecuteOptions<R> | undefined,
    error: unknown,
  ): Promise<{ d: RouteDecision<N>; result: R }> {
    const c = first.classification;
    return this.#follower!.again(
      failed.node,
      error,
      (e) => options?.started?.() !== true && (c.role === 'read' || provablyNotRun(e)),
      async (_primary, last) => {
        const target = this.#primary;
        const next = this.#decision('primary', target, `retry:failover from ${last.name}`, c);
        this.#count(target, next, sql, 'retry', last.error);
        try {
          return { d: next, result: await run(next) };
        } catch (again) {
          target.errors++;
          throw again;
        }
      },
    );
  }

  /**
   * The retry chain of a read that failed on a replica. After a connection error the replica is
   * ejected and the read goes to another healthy replica not tried yet, then (per `fallback`) to
   * the primary; after an error a standby raises because it is in recovery (see
   * {@link standbyRejection}) it goes to the primary. Each node is tried at most once, so the chain
   * ends after at most `replicas + 1` attempts; any other error is the caller's.
   */
  async #retry<R>(
    first: RouteDecision<N>,
    failed: NodeState<N>,
    sql: string,
    run: (decision: RouteDecision<N>) => R | PromiseLike<R>,
    frame: Frame,
    firstError: unknown,
  ): Promise<R> {
    const tried = new Set<NodeState<N>>([failed]);
    let node = failed;
    let error = firstError;
    for (;;) {
      const next = this.#nextAttempt(first.classification, node, sql, frame, error, tried);
      this.#retries++;
      const target = next.replica < 0 ? this.#primary : this.#replicas[next.replica]!;
      this.#count(target, next, sql, 'retry', error);
      try {
        return await run(next);
      } catch (again) {
        target.errors++;
        if (next.target !== 'replica') throw again;
        tried.add(target);
        node = target;
        error = again;
      }
    }
  }

  /** Where the retry chain goes after `node` failed with `error`; rethrows errors that are not retried. */
  #nextAttempt(
    c: Classification,
    node: NodeState<N>,
    sql: string,
    frame: Frame,
    error: unknown,
    tried: ReadonlySet<NodeState<N>>,
  ): RouteDecision<N> {
    let next: RouteDecision<N>;
    if (isConnectionError(error)) {
      this.#eject(node, error);
      const reason = `retry:connection-error from ${node.node.name}`;
      const candidates = this.#retryCandidates(frame).filter((r) => !tried.has(r));
      try {
        next = this.#pick(sql, c, candidates);
        // A strategy function may name a replica that already failed this read: use the fallback.
        if (next.target === 'replica' && tried.has(this.#replicas[next.replica]!))
          next = this.#fallbackDecision(c);
      } catch (noReplica) {
        if (noReplica instanceof KoyoRouterError && noReplica.code === 'NO_REPLICA_AVAILABLE') {
          throw new KoyoRouterError(
            'NO_REPLICA_AVAILABLE',
            `${noReplica.message} The last one failed with: ${errorMessage(error)}`,
            { cause: error },
          );
        }
        throw noReplica;
      }
      next = { ...next, reason };
    } else {
      const state = standbyRejection(error);
      if (state === undefined) throw error;
      next = this.#decision('primary', this.#primary, `retry:${state} from ${node.node.name}`, c);
    }
    if (next.target !== 'primary') return next;
    // A read of a transaction (ignoreTransactions) that ends up on the primary uses the transaction.
    const tx = transactionOf(frame, this);
    return tx === undefined
      ? next
      : this.#decision('transaction', this.#primary, next.reason, c, tx);
  }

  /** Replicas a retry may use: the eligible ones, and with `lsn` read-your-writes only those that replayed the session's write. */
  #retryCandidates(frame: Frame): readonly NodeState<N>[] {
    const lsn = this.#peekMark(frame)?.lsn;
    if (lsn === undefined) return this.#eligible;
    return this.#eligible.filter((r) => r.replayLsn !== undefined && r.replayLsn >= lsn);
  }

  /** Whether a statement that just succeeded committed a write (for read-your-writes). */
  #wrote(d: RouteDecision<N>, options: ExecuteOptions<unknown> | undefined): boolean {
    const c = d.classification;
    if (c.role !== 'write') return false;
    if (d.target === 'primary') return c.transactionControl !== 'begin';
    if (options?.pinned === undefined) return false; // outer handle inside a transaction: COMMIT records it
    if (c.transactionControl === 'commit') return true;
    return c.transactionControl === null && options.inTransaction !== true;
  }

  #count(
    node: NodeState<N>,
    d: RouteDecision<N>,
    sql: string,
    event: 'query' | 'retry',
    error?: unknown,
    skipped = false,
  ): void {
    if (!skipped) {
      node.queries++;
      if (d.classification.role === 'read') node.reads++;
      else node.writes++;
    }
    if (d.target === 'primary' && d.classification.role === 'read') {
      if (d.reason === this.#fallbackReason) this.#fallbacks++;
      else if (d.reason === 'read-your-writes') this.#rywCount++;
    }
    this.#metrics?.query(d.node, d.target === 'replica' ? 'replica' : 'primary', d.reason);
    const logger = this.#logger;
    if (logger !== undefined) {
      const role: Role = d.target === 'replica' ? 'replica' : 'primary';
      const line = `${role === 'replica' ? 'Replica' : 'Primary'}: ${d.node} (${d.reason}) ${sql}`;
      logger(line, { event, node: d.node, role, reason: d.reason, sql, error });
    }
  }

  #eject(node: NodeState<N>, error: unknown): void {
    const wasHealthy = node.ejectedUntil === undefined;
    node.ejectedUntil = Date.now() + this.#ejectMs;
    node.lastError = error;
    if (!wasHealthy) return;
    node.ejections++;
    this.#recompute();
    this.#logger?.(
      `Replica: ${node.node.name} ejected for ${this.#ejectMs}ms (${errorMessage(error)})`,
      {
        event: 'eject',
        node: node.node.name,
        role: 'replica',
        reason: 'connection-error',
        sql: undefined,
        error,
      },
    );
  }

  /**
   * For adapters: a connection error surfaced outside a routed statement (e.g. an idle connection
   * of replica `index` died). Ejects the replica when `error` is connection-class.
   */
  reportConnectionError(index: number, error: unknown): void {
    const node = this.#replicas[index];
    if (node !== undefined && isConnectionError(error)) this.#eject(node, error);
  }

  #recompute(): void {
    const eligible: NodeState<N>[] = [];
    let lagging = 0;
    for (const r of this.#replicas) {
      if (r.ejectedUntil !== undefined) continue;
      if (!r.withinLag) {
        lagging++;
        continue;
      }
      eligible.push(r);
    }
    this.#eligible = eligible;
    const bound = this.#maxLag;
    if (lagging > 0 && bound !== undefined) {
      this.#fallbackReason =
        bound.bytes !== undefined &&
        this.#replicas.some((r) => r.lagBytes !== undefined && r.lagBytes > bound.bytes!)
          ? `lag>${formatBytes(bound.bytes)}`
          : `lag>${bound.ms}ms`;
    } else {
      this.#fallbackReason = 'replicas-unavailable';
    }
  }

  #tick(): Promise<void> {
    if (this.#probing !== undefined) return this.#probing;
    this.#probing = this.#probeAll().finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  async #probeAll(): Promise<void> {
    if (this.#closed) return;
    const now = Date.now();
    const due = this.#replicas.filter((r) =>
      r.ejectedUntil === undefined ? this.#needLag : now >= r.ejectedUntil,
    );
    if (due.length === 0) return;
    let primaryLsn: bigint | undefined;
    if (this.#needLag) {
      try {
        const text = await this.#probeNode(this.#primary, 'SELECT pg_current_wal_lsn()::text');
        if (text !== null) primaryLsn = parseLsn(text);
      } catch {
        // primary unreachable: keep the last lag figures
      }
      if (primaryLsn !== undefined) {
        const samples = this.#samples;
        const last = samples[samples.length - 1];
        if (last === undefined || primaryLsn > last.lsn) samples.push({ lsn: primaryLsn, at: now });
        while (samples.length > 1 && samples.length > 1000) samples.shift();
      }
    }
    await Promise.all(
      due.map(async (r) => {
        let text: string | null;
        try {
          text = await this.#probeNode(r, 'SELECT pg_last_wal_replay_lsn()::text');
        } catch (error) {
          if (r.ejectedUntil !== undefined || isConnectionError(error)) {
            if (r.ejectedUntil !== undefined) {
              r.ejectedUntil = Date.now() + this.#ejectMs;
              r.lastError = error;
            } else {
              this.#eject(r, error);
            }
          }
          return;
        }
        if (text !== null) {
          const replay = parseLsn(text);
          r.replayLsn = replay;
          if (primaryLsn !== undefined) {
            r.lagBytes = replay >= primaryLsn ? 0 : Number(primaryLsn - replay);
            r.lagMs = this.#lagMs(replay, primaryLsn, now);
          }
        }
        const bound = this.#maxLag;
        r.withinLag =
          bound === undefined ||
          ((bound.bytes === undefined || r.lagBytes === undefined || r.lagBytes <= bound.bytes) &&
            (bound.ms === undefined || r.lagMs === undefined || r.lagMs <= bound.ms));
        if (r.ejectedUntil !== undefined) {
          r.ejectedUntil = undefined;
          this.#logger?.(`Replica: ${r.node.name} reinstated (probe succeeded)`, {
            event: 'reinstate',
            node: r.node.name,
            role: 'replica',
            reason: 'probe-succeeded',
            sql: undefined,
            error: undefined,
          });
        }
      }),
    );
    this.#recompute();
  }

  /** How long ago the primary was first seen past `replay`. */
  #lagMs(replay: bigint, primaryLsn: bigint, now: number): number {
    if (replay >= primaryLsn) return 0;
    for (const sample of this.#samples) {
      if (sample.lsn > replay) return now - sample.at;
    }
    return 0;
  }

  /** Records `promise` as pending until it settles. */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const done = (): void => void this.#pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  #probeNode(node: NodeState<N>, sql: string): Promise<string | null> {
    return this.#track(
      withTimeout(
        node.node.probe(sql),
        this.#probeTimeoutMs,
        () =>
          new KoyoRouterError(
            'PROBE_TIMEOUT',
            `Probe of ${node.node.name} timed out after ${this.#probeTimeoutMs}ms.`,
          ),
      ),
    );
  }

  #waitMs(mark: WriteMark): number {
    if (mark.waitMs !== undefined) return mark.waitMs;
    const ryw = this.#ryw;
    return ryw !== false && ryw.mode === 'lsn' ? (ryw.waitMs ?? 200) : 200;
  }

  #peekMark(frame: Frame): WriteMark | undefined {
    const session = frame.session;
    return session === undefined ? this.#globalMark : session.marks.get(this);
  }

  #mark(frame: Frame): WriteMark {
    const session = frame.session;
    if (session === undefined) return this.#globalMark;
    let mark = session.marks.get(this);
    if (mark === undefined) {
      mark = { lsn: undefined, at: 0 };
      session.marks.set(this, mark);
    }
    return mark;
  }
}

/**
 * Builds the routing core over nodes given by an adapter. Most apps use `createRoutedPool`
 * (`@koyo/router/pg`) or `createRoutedSql` (`@koyo/router/postgres`) instead; bindings for other
 * drivers build on this.
 *
 * @example
 * const router = createRouter({
 *   primary: { name: 'primary', handle: primaryPool, probe: (q) => primaryPool.query(q).then((r) => Object.values(r.rows[0])[0] as string | null) },
 *   replicas: [{ name: 'replica1', handle: replicaPool, probe: ... }],
 *   maxLag: { bytes: 16 * 1024 * 1024 },
 * });
 * await router.execute('SELECT 1', (d) => d.handle!.query('SELECT 1'));
 */
export function createRouter<N>(config: RouterConfig<N>): Router<N> {
  return new Router(config);
}

function closedError(): KoyoRouterError {
  return new KoyoRouterError('CLOSED', 'This router was closed with end(); create a new one.');
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function checkChoice(name: string, value: unknown, allowed: string[], fnAllowed = false): void {
  if (value === undefined) return;
  if (fnAllowed && typeof value === 'function') return;
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new KoyoRouterError(
      'INVALID_OPTION',
      `${name}: expected ${allowed.map((a) => `'${a}'`).join(', ')}${fnAllowed ? ' or a function' : ''}, got ${JSON.stringify(value)}.`,
    );
  }
}

function checkNumber(name: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new KoyoRouterError(
      'INVALID_OPTION',
      `${name}: expected a number >= ${min}, got ${JSON.stringify(value)}.`,
    );
  }
}
