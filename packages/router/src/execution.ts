import type { Classification } from './classify.js';
import { storage, type Frame, type Role } from './context.js';
import type { PositionCheck } from './driver.js';
import { KoyoRouterError } from './errors.js';
import { provablyNotRun, type PrimaryFollower } from './failover.js';
import { isConnectionError } from './health.js';
import { parseLsn } from './lsn.js';
import type { RouterMetrics } from './metrics.js';
import type { NodeState } from './node-state.js';
import { backoff, type ReadYourWrites } from './read-your-writes.js';
import {
  errorMessage,
  PRIMARY_POSITION_SQL,
  replayCheckSql,
  type ReplicaHealth,
} from './replica-health.js';
import type { Decider, RouteDecision } from './route-decision.js';
import type { ResolvedRouterOptions } from './router-options.js';
import { standbyRejection } from './standby-errors.js';

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
  /**
   * Result to return for a BEGIN/COMMIT/ROLLBACK suppressed by `skipTransactions` (called with the
   * statement). Default undefined.
   */
  readonly skip?: (sql: string) => R;
  /**
   * For a `run` that calls code of the app (a transaction callback) or hands rows to it (a
   * stream): returns true once it did. Such a statement is not run again: after a failover the
   * router runs it again on the new primary only when the attempt provably did not run, and a read
   * that failed on a replica goes to the next replica or the primary only while this is false.
   */
  readonly started?: () => boolean;
  /**
   * `false`: this `run` ignores a {@link PositionCheck} (it streams rows to the app, say), so the
   * router never asks it for one, even on a node whose binding pipelines.
   */
  readonly pipelines?: false;
}

/**
 * What {@link Router.execute} calls to run a statement on the decided target. `check`, when given,
 * is a probe the binding may run on the same connection in the same round trip (see
 * {@link PositionCheck}); the router passes one only on nodes whose binding pipelines. A `run`
 * that ignores it stays correct and only loses speed: the router then asks for a write's position
 * separately, and drops a read's result and runs the read again where the position is known to be
 * replayed.
 */
export type RunStatement<N, R> = (
  decision: RouteDecision<N>,
  check?: PositionCheck,
) => R | PromiseLike<R>;

/**
 * @internal execution of one routed statement: transaction policies, counting and logging,
 * read-your-writes bookkeeping (the write's position, the replay check of a read), the retry
 * chain of a failed read and the failover retry of a statement on the primary.
 */
export class Executor<N> {
  fallbacks = 0;
  retries = 0;
  rywCount = 0;
  readonly #o: ResolvedRouterOptions<N>;
  readonly #health: ReplicaHealth<N>;
  readonly #ryw: ReadYourWrites<N>;
  readonly #decider: Decider<N>;
  readonly #follower: PrimaryFollower<N> | undefined;
  readonly #metrics: () => RouterMetrics | null;
  readonly #transactionMode: () => void;
  readonly #transactionOf: (frame: Frame) => unknown;

  constructor(parts: {
    o: ResolvedRouterOptions<N>;
    health: ReplicaHealth<N>;
    ryw: ReadYourWrites<N>;
    decider: Decider<N>;
    follower: PrimaryFollower<N> | undefined;
    metrics: () => RouterMetrics | null;
    /** Throws `TRANSACTION_BLOCKED` in a blocking scope. */
    transactionMode: () => void;
    transactionOf: (frame: Frame) => unknown;
  }) {
    this.#o = parts.o;
    this.#health = parts.health;
    this.#ryw = parts.ryw;
    this.#decider = parts.decider;
    this.#follower = parts.follower;
    this.#metrics = parts.metrics;
    this.#transactionMode = parts.transactionMode;
    this.#transactionOf = parts.transactionOf;
  }

  /**
   * Runs a decided statement (or one whose decision waits for a replica): policies, counting,
   * retries, read-your-writes. Counted as in flight (see `settled()`) from its own body, so a
   * statement costs no extra promise for that.
   */
  async run<R>(
    decided: RouteDecision<N> | Promise<RouteDecision<N>>,
    sql: string,
    run: RunStatement<N, R>,
    frame: Frame,
    options: ExecuteOptions<R> | undefined,
    /** For a read re-run after its check found the replica behind: until when, and how often. */
    again?: { readonly started: number; readonly until: number; readonly attempt: number },
  ): Promise<R> {
    const outermost = again === undefined;
    if (outermost) this.#health.start();
    try {
      let d = decided instanceof Promise ? await decided : decided;
      const waiting = d.target === 'primary' ? this.#follower?.pending() : undefined;
      if (waiting !== undefined) {
        await waiting;
        d = this.#decider.onPrimary(d.reason, d.classification);
      }
      let node = this.#stateOf(d);
      const control = d.classification.transactionControl;
      if (control !== null && frame.policy !== 'allow' && d.classification.command !== 'MULTI') {
        if (frame.policy === 'block' && control === 'begin')
          storage.run(frame, () => this.#transactionMode());
        if (frame.policy === 'skip') {
          const skipped = { ...d, reason: 'skipped:skipTransactions' };
          this.#count(node, skipped, sql, 'query', undefined, true);
          return options?.skip === undefined ? (undefined as R) : options.skip(sql);
        }
      }
      // Read-your-writes: a read on a replica not known to have replayed the position is checked in
      // its own round trip (or waited for); a write learns its position in its round trip.
      let required: bigint | undefined;
      if (d.target === 'replica') {
        required = this.#ryw.peek(frame)?.lsn;
        if (
          required !== undefined &&
          !(node.replayLsn !== undefined && node.replayLsn >= required)
        ) {
          if (node.node.pipelines !== true || options?.pipelines === false) {
            const waitMs = this.#ryw.waitMs(this.#ryw.peek(frame)!);
            d = await this.#decider.waitAndPick(sql, d.classification, required, waitMs);
            node = this.#stateOf(d);
            required = undefined;
          }
        } else {
          required = undefined;
        }
      }
      const check: PositionCheck | undefined =
        required !== undefined
          ? { sql: replayCheckSql(required), order: 'probe-first', probed: undefined }
          : this.#ryw.lsnMode &&
              d.target === 'primary' &&
              d.classification.role === 'write' &&
              control === null &&
              options?.pipelines !== false &&
              this.#health.primary.node.pipelines === true
            ? { sql: PRIMARY_POSITION_SQL, order: 'probe-last', probed: undefined }
            : undefined;
      this.#count(node, d, sql, 'query');
      let result: R;
      try {
        result = await (check === undefined ? run(d) : run(d, check));
      } catch (error) {
        node.errors++;
        if (d.target === 'replica')
          return await this.#retry(d, node, sql, run, frame, error, options?.started);
        if (this.#follower === undefined) throw error;
        if (d.target !== 'primary') {
          this.#follower.notice(error);
          throw error;
        }
        const retried = await this.#failover(d, node, sql, run, options, error);
        d = retried.d;
        result = retried.result;
      }
      if (required !== undefined && !this.#replayedIn(node, check!, required)) {
        // The replica was behind when the read ran: its result may be stale. Decide again after a
        // short pause (a replica seen past the position now, or another checked attempt) until
        // waitMs passed, then the primary.
        const started = again?.started ?? Date.now();
        const until = again?.until ?? started + this.#ryw.waitMs(this.#ryw.peek(frame)!);
        const attempt = again?.attempt ?? 0;
        let next: RouteDecision<N>;
        if (Date.now() >= until) {
          this.#metrics()?.rywWait(Date.now() - started, 'primary');
          next = this.#decider.onPrimary('read-your-writes', d.classification);
        } else {
          await backoff(attempt, until - Date.now());
          next = await this.#decider.route(sql, frame, 'execute');
        }
        const retry = { started, until, attempt: attempt + 1 };
        return await this.run(next, sql, run, frame, options, retry);
      }
      if (again !== undefined && d.target === 'replica')
        this.#metrics()?.rywWait(Date.now() - again.started, 'replica');
      if (this.#ryw.on && this.#wrote(d, options)) {
        const probed = check?.order === 'probe-last' ? check.probed : undefined;
        const asking = this.#ryw.noteWrite(frame, probed);
        if (asking !== undefined) await asking;
      }
      return result;
    } finally {
      if (outermost) this.#health.finish();
    }
  }

  /** Whether the check run with a read proves `node` had replayed `required` (records what it saw). */
  #replayedIn(node: NodeState<N>, check: PositionCheck, required: bigint): boolean {
    const text = check.probed;
    const replay = text === undefined || text === null ? undefined : parseLsn(text);
    if (replay !== undefined) node.replayed(replay);
    if (replay !== undefined && replay >= required) return true;
    if (node.behind === undefined || required < node.behind) node.behind = required;
    return false;
  }

  /** The state of the node a decision names (the topology may have changed since). */
  #stateOf(d: RouteDecision<N>): NodeState<N> {
    const health = this.#health;
    const state = d.replica < 0 ? health.primary : health.replicas[d.replica];
    if (state !== undefined && state.node.name === d.node) return state;
    for (const s of health.states.values()) if (s.node.name === d.node) return s;
    return health.primary;
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
    run: RunStatement<N, R>,
    options: ExecuteOptions<R> | undefined,
    error: unknown,
  ): Promise<{ d: RouteDecision<N>; result: R }> {
    const c = first.classification;
    return this.#follower!.again(
      failed.node,
      error,
      (e) => options?.started?.() !== true && (c.role === 'read' || provablyNotRun(e)),
      async (_primary, last) => {
        const target = this.#health.primary;
        const next = this.#decider.onPrimary(`retry:failover from ${last.name}`, c);
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
    run: RunStatement<N, R>,
    frame: Frame,
    firstError: unknown,
    started: (() => boolean) | undefined,
  ): Promise<R> {
    const tried = new Set<NodeState<N>>([failed]);
    let node = failed;
    let error = firstError;
    for (;;) {
      if (started?.() === true) {
        // It may have reached the app (rows of a stream): never twice. The node still failed.
        if (isConnectionError(error)) this.#health.eject(node, error);
        throw error;
      }
      const next = this.#nextAttempt(first.classification, node, sql, frame, error, tried);
      this.retries++;
      const target = next.replica < 0 ? this.#health.primary : this.#health.replicas[next.replica]!;
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
    const decider = this.#decider;
    const primary = this.#health.primary;
    let next: RouteDecision<N>;
    if (isConnectionError(error)) {
      this.#health.eject(node, error);
      const reason = `retry:connection-error from ${node.node.name}`;
      const candidates = decider.retryCandidates(frame).filter((r) => !tried.has(r));
      try {
        next = decider.pick(sql, c, candidates);
        // A strategy function may name a replica that already failed this read: use the fallback.
        if (next.target === 'replica' && tried.has(this.#health.replicas[next.replica]!))
          next = decider.fallbackDecision(c);
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
      next = decider.onPrimary(`retry:${state} from ${node.node.name}`, c);
    }
    if (next.target !== 'primary') return next;
    // A read of a transaction (ignoreTransactions) that ends up on the primary uses the transaction.
    const tx = this.#transactionOf(frame);
    return tx === undefined ? next : decider.decision('transaction', primary, next.reason, c, tx);
  }

  /** Whether a statement that just succeeded committed a write (for read-your-writes). */
  #wrote(d: RouteDecision<N>, options: ExecuteOptions<unknown> | undefined): boolean {
    const c = d.classification;
    if (c.role !== 'write') return false;
    // A string of several statements may commit a write even when it opens a transaction
    // ("BEGIN; UPDATE ...; COMMIT"): its position is asked for after the whole string ran.
    if (c.command === 'MULTI') return true;
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
      if (d.reason === this.#health.fallbackReason) this.fallbacks++;
      else if (d.reason === 'read-your-writes') this.rywCount++;
    }
    this.#metrics()?.query(d.node, d.target === 'replica' ? 'replica' : 'primary', d.reason);
    const logger = this.#o.logger;
    if (logger !== undefined) {
      const role: Role = d.target === 'replica' ? 'replica' : 'primary';
      const line = `${role === 'replica' ? 'Replica' : 'Primary'}: ${d.node} (${d.reason}) ${sql}`;
      logger(line, { event, node: d.node, role, reason: d.reason, sql, error });
    }
  }
}
