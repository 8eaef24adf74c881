import { createClassifier, type Classification, type Classifier } from './classify.js';
import { getDefaultRole, transactionOf, type Frame } from './context.js';
import { KoyoRouterError } from './errors.js';
import type { NodeState } from './node-state.js';
import type { ReadYourWrites } from './read-your-writes.js';
import type { ReplicaHealth } from './replica-health.js';
import type { ResolvedRouterOptions } from './router-options.js';
import { selectReplica } from './strategy.js';

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

/** How {@link Decider.route} is called: `explain` (dry run), `route`, or `execute` (may speculate). */
export type RouteMode = 'explain' | 'route' | 'execute';

const CACHE_SIZE = 2000;
const CACHE_MAX_LENGTH = 4096;
const NO_CLASSIFICATION: Classification = Object.freeze({
  role: 'write',
  reason: 'classified:none',
  command: 'UNKNOWN',
  transactionControl: null,
});

/**
 * @internal the routing decision: classification (cached per text), the context (transactions,
 * scopes, read-your-writes marks), the replica strategy and the fallback.
 */
export class Decider<N> {
  readonly #o: ResolvedRouterOptions<N>;
  readonly #health: ReplicaHealth<N>;
  readonly #ryw: ReadYourWrites<N>;
  readonly #owner: object;
  readonly #classifier: Classifier;
  readonly #cache = new Map<string, Classification>();
  readonly #rr = { next: 0 };

  constructor(
    owner: object,
    o: ResolvedRouterOptions<N>,
    health: ReplicaHealth<N>,
    ryw: ReadYourWrites<N>,
  ) {
    this.#owner = owner;
    this.#o = o;
    this.#health = health;
    this.#ryw = ryw;
    this.#classifier = createClassifier(
      o.volatileFunctions === undefined ? {} : { volatileFunctions: o.volatileFunctions },
    );
  }

  /**
   * Classifies with a bounded cache: apps and ORMs send the same parameterized texts over and
   * over, and a Map hit costs less than lexing them again.
   */
  classify(sql: string): Classification {
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

  /** A decision for `node`. */
  decision(
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

  /** A decision for the current primary. */
  onPrimary(reason: string, c: Classification): RouteDecision<N> {
    return this.decision('primary', this.#health.primary, reason, c);
  }

  /** The decision of a statement sent on a connection checked out from the primary. */
  pinned(sql: string, connection: unknown): RouteDecision<N> {
    return this.decision(
      'transaction',
      this.#health.primary,
      'pinned-connection',
      this.classify(sql),
      connection,
    );
  }

  /** Decides where `sql` runs in `frame`. */
  route(sql: string, frame: Frame, mode: RouteMode): RouteDecision<N> | Promise<RouteDecision<N>> {
    const c = this.classify(sql);
    const tx =
      frame.transactions === undefined && frame.session === undefined
        ? undefined
        : transactionOf(frame, this.#owner);
    if (tx === undefined) return this.#routeOutside(sql, c, frame, mode);
    const primary = this.#health.primary;
    if (!(this.#o.ignoreTransactions && c.role === 'read'))
      return this.decision('transaction', primary, 'in-transaction', c, tx);
    // ignoreTransactions: the read may go to a replica; if it goes to the primary anyway
    // (readFromPrimary, fallback, ...), it uses the transaction's connection, which sees its writes.
    const toTx = (d: RouteDecision<N>): RouteDecision<N> =>
      d.target === 'primary'
        ? this.decision('transaction', this.#health.primary, d.reason, c, tx)
        : d;
    const d = this.#routeOutside(sql, c, frame, mode);
    return d instanceof Promise ? d.then(toTx) : toTx(d);
  }

  #routeOutside(
    sql: string,
    c: Classification,
    frame: Frame,
    mode: RouteMode,
  ): RouteDecision<N> | Promise<RouteDecision<N>> {
    if (c.role === 'write') return this.onPrimary(c.reason, c);
    if (this.#health.replicas.length === 0) return this.onPrimary('no-replicas', c);
    if (frame.role === 'primary') return this.onPrimary('read-from-primary', c);
    if (frame.role === undefined && (this.#o.defaultRole ?? getDefaultRole()) === 'primary') {
      return this.onPrimary('default-role', c);
    }
    const mark = this.#ryw.peek(frame);
    if (mark !== undefined && mark.at !== 0) {
      // A known position (own write in lsn mode, a token or readAfter) is waited for in any mode.
      if (mark.lsn !== undefined)
        return this.#routeAfter(sql, c, mark.lsn, this.#ryw.waitMs(mark), mode);
      if (Date.now() - mark.at < this.#ryw.windowMs()) return this.onPrimary('read-your-writes', c);
    }
    return this.pick(sql, c, this.#health.eligible);
  }

  /**
   * A read that must see `lsn`: a replica known to have replayed it; else, from `execute`, a
   * replica whose binding checks the replay position in the read's own round trip (the execution
   * verifies it and waits if it was behind); else one found by asking the replicas for up to
   * `waitMs`; else the primary.
   */
  #routeAfter(
    sql: string,
    c: Classification,
    lsn: bigint,
    waitMs: number,
    mode: RouteMode,
  ): RouteDecision<N> | Promise<RouteDecision<N>> {
    const caughtUp = this.#ryw.ready(lsn);
    if (caughtUp.length > 0) return this.pick(sql, c, caughtUp);
    const eligible = this.#health.eligible;
    if (mode === 'explain' || waitMs === 0 || eligible.length === 0)
      return this.onPrimary('read-your-writes', c);
    if (mode === 'execute') {
      // Not on a replica a check just found short of this position (the wait asks it again).
      const checked = eligible.filter(
        (r) => r.node.pipelines === true && (r.behind === undefined || lsn < r.behind),
      );
      if (checked.length > 0) return this.pick(sql, c, checked);
    }
    return this.waitAndPick(sql, c, lsn, waitMs);
  }

  /** Waits up to `waitMs` for a replica that replayed `lsn`; the primary if none did. */
  async waitAndPick(
    sql: string,
    c: Classification,
    lsn: bigint,
    waitMs: number,
  ): Promise<RouteDecision<N>> {
    const caughtUp = await this.#ryw.waitFor(lsn, waitMs);
    if (caughtUp.length > 0) return this.pick(sql, c, caughtUp);
    return this.onPrimary('read-your-writes', c);
  }

  /** A replica among `candidates` per the strategy, else the fallback. */
  pick(sql: string, c: Classification, candidates: readonly NodeState<N>[]): RouteDecision<N> {
    const chosen =
      candidates.length === 0 && typeof this.#o.strategy !== 'function'
        ? undefined
        : this.#select(sql, c, candidates);
    if (chosen !== undefined) return this.decision('replica', chosen, c.reason, c);
    return this.fallbackDecision(c);
  }

  /** The read goes to the primary, or throws `NO_REPLICA_AVAILABLE` with `fallback: 'error'`. */
  fallbackDecision(c: Classification): RouteDecision<N> {
    const health = this.#health;
    if (this.#o.fallback === 'error') {
      throw new KoyoRouterError(
        'NO_REPLICA_AVAILABLE',
        `No replica can take this read (${health.fallbackReason}) and fallback is 'error'. Use fallback: 'primary' to read from the primary instead.`,
        { cause: health.replicas.find((r) => r.lastError !== undefined)?.lastError },
      );
    }
    return this.decision('primary', health.primary, health.fallbackReason, c);
  }

  /** Replicas a retry may use: the eligible ones, and with a known position only those that replayed it. */
  retryCandidates(frame: Frame): readonly NodeState<N>[] {
    const lsn = this.#ryw.peek(frame)?.lsn;
    if (lsn === undefined) return this.#health.eligible;
    return this.#ryw.ready(lsn);
  }

  #select(
    sql: string,
    c: Classification,
    candidates: readonly NodeState<N>[],
  ): NodeState<N> | undefined {
    const strategy = this.#o.strategy;
    const replicas = this.#health.replicas;
    if (typeof strategy === 'function') {
      const eligible = new Set(candidates);
      const statuses = replicas.map((r) => ({
        ...r.status(),
        healthy: eligible.has(r) ? r.ejectedUntil === undefined : false,
      }));
      const picked = strategy({ kind: 'read', command: c.command, sql }, statuses);
      if (picked === null || picked === undefined) return undefined;
      const index =
        typeof picked === 'number'
          ? picked
          : typeof picked === 'string'
            ? replicas.findIndex((r) => r.node.name === picked)
            : picked.index;
      const node = replicas[index];
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
}
