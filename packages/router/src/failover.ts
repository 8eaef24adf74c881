import { KoyoRouterError } from './errors.js';
import { causes, isConnectionError } from './health.js';
import type { RouterNode } from './router.js';
import { standbyRejection } from './standby-errors.js';

/** How often a failover window asks the nodes again while no node accepts writes. */
const FAILOVER_POLL_MS = 100;

/**
 * Errors raised before a statement reached a server (the connection was refused, the server
 * refused the session at startup, the connect timed out): the statement provably did not run.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P03', // cannot_connect_now: starting up, shutting down, in recovery mode
  '53300', // too_many_connections (sent at startup)
  'CONNECT_TIMEOUT', // postgres.js: the connection was never established
]);

/** Standby rejections that mean "a write reached a node in recovery" (40001/40P01 also happen on a primary). */
const STANDBY_WRITE_STATES = new Set(['25006', '55000', 'XX000', '0A000']);

/**
 * Whether `error` means the node a write went to may no longer be the primary: a connection
 * error (the node died, was shut down: 57P01...) or a write rejected because the node is in
 * recovery (25006 on a demoted node).
 *
 * @example
 * lostPrimary({ code: '57P01' }); // true
 * lostPrimary({ code: '23505' }); // false
 */
export function lostPrimary(error: unknown): boolean {
  return isConnectionError(error) || isStandbyWrite(error);
}

/**
 * Whether a statement that failed with `error` provably did not run: the connection was refused
 * (or the session refused at startup, or the connect timed out) before anything was sent, or a
 * node in recovery rejected it (25006 and the other "during recovery" rejections: a standby
 * changes nothing).
 *
 * @example
 * provablyNotRun({ code: 'ECONNREFUSED' }); // true
 * provablyNotRun({ code: '25006', message: 'cannot execute INSERT in a read-only transaction' }); // true
 * provablyNotRun(new Error('Connection terminated unexpectedly')); // false: it may have committed
 */
export function provablyNotRun(error: unknown): boolean {
  if (isStandbyWrite(error)) return true;
  return causes(error).some((e) => {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    // pg.Pool: the connection did not complete within connectionTimeoutMillis.
    return message === 'Connection terminated due to connection timeout';
  });
}

function isStandbyWrite(error: unknown): boolean {
  const state = standbyRejection(error);
  return state !== undefined && STANDBY_WRITE_STATES.has(state);
}

/** Options of a router that follows the primary (part of `RouterOptions`). */
export interface FollowOptions {
  /**
   * Follow the primary across failovers among every node given (primary candidates and replicas):
   * the primary is the node where `pg_is_in_recovery()` is false, every other node in recovery is
   * a replica (an old primary that returns as a standby included). A `primary` list of candidates
   * turns following on too, with the replica set fixed to `replicas` (minus the primary). Default
   * false.
   */
  readonly discover?: boolean;
  /**
   * With a `primary` list or `discover`: how long a write waits for a node to accept writes after
   * the primary failed (a write that provably did not run is retried on the new primary within this
   * time; then it throws `NO_PRIMARY`). Default 30000.
   */
  readonly failoverMs?: number;
}

/** The router's view of the cluster: `Router.discover()`. */
export interface Topology {
  /** Name of the node that takes writes. */
  readonly primary: string;
  /** Names of the nodes that take reads, in configuration order. */
  readonly replicas: readonly string[];
}

/** @internal what the follower needs from the router. */
export interface FollowerHost<N> {
  /** Every distinct node, in configuration order (primary candidates first). */
  readonly nodes: readonly RouterNode<N>[];
  /** Nodes that may be the primary. */
  readonly candidates: ReadonlySet<RouterNode<N>>;
  /** The `replicas` option (list mode: the replica set is these minus the primary). */
  readonly listedReplicas: readonly RouterNode<N>[];
  /** `discover: true`: every node in recovery is a replica. */
  readonly discover: boolean;
  readonly failoverMs: number;
  readonly intervalMs: number;
  current(): { primary: RouterNode<N>; replicas: readonly RouterNode<N>[] };
  apply(primary: RouterNode<N>, replicas: RouterNode<N>[]): void;
  /** Runs a probe with the router's timeout (and tracks it for `settled()`). */
  probe(node: RouterNode<N>, sql: string): Promise<string | null>;
  log(line: string, event: 'failover' | 'split-brain', node: string, error: unknown): void;
  closed(): boolean;
}

type Answer = 'writable' | 'recovering' | 'unreachable';

interface Round<N> {
  readonly answers: Map<RouterNode<N>, Answer>;
  readonly errors: Map<RouterNode<N>, unknown>;
  readonly writable: RouterNode<N>[];
}

/**
 * @internal Finds and follows the primary for a router whose `primary` is a list of candidates or
 * that was built with `discover: true`: asks every node `pg_is_in_recovery()`, uses the one node
 * that is not in recovery, and after a write failure that means "not the primary any more" asks
 * again (every {@link FAILOVER_POLL_MS} ms, for up to `failoverMs`) until one node accepts writes.
 * Two writable nodes are `SPLIT_BRAIN`, never a guess.
 */
export class PrimaryFollower<N> {
  readonly #host: FollowerHost<N>;
  /** The open failover window (or the first discovery): resolves with the primary. */
  #window: Promise<RouterNode<N>> | undefined;
  #splitBrain: KoyoRouterError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  /** Times the primary changed. */
  failovers = 0;

  constructor(host: FollowerHost<N>) {
    this.#host = host;
    void this.#open(undefined);
    this.#timer = setInterval(() => void this.check(), host.intervalMs);
    this.#timer.unref();
  }

  /** Stops the periodic check. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * What a statement for the primary has to wait for first: the open failover window (or first
   * discovery), or undefined when the primary is known. Throws `SPLIT_BRAIN` while two nodes
   * accept writes.
   */
  pending(): Promise<RouterNode<N>> | undefined {
    if (this.#splitBrain !== undefined) throw this.#splitBrain;
    return this.#window;
  }

  /**
   * After a statement failed on `failed` (the primary when it was sent): when the error means the
   * node may not be the primary any more, re-discovers (within `failoverMs`). Resolves when the
   * caller may run the statement again on the (new) primary: only when `retryable` (it provably
   * did not run) and a primary was found that can take it; otherwise rejects with `error`, or with
   * `SPLIT_BRAIN` / `NO_PRIMARY` when re-discovery failed and the statement may be retried.
   */
  async recover(failed: RouterNode<N>, error: unknown, retryable: boolean): Promise<void> {
    if (!lostPrimary(error)) throw error;
    const window = this.#open(error);
    if (!retryable) {
      window.catch(() => undefined);
      throw error;
    }
    const primary = await window;
    // The same node, still writable: a 25006 there has another cause (a READ ONLY transaction,
    // default_transaction_read_only): the app's error, not a failover.
    if (primary === failed && isStandbyWrite(error)) throw error;
  }

  /**
   * After `error` on `failed` (the primary it was sent to): {@link PrimaryFollower.recover}, then
   * `attempt` on the (new) primary, again after each failure while `retryable(error)`, at most once
   * per node. `last` is the node and error that led to this attempt.
   */
  async again<T>(
    failed: RouterNode<N>,
    error: unknown,
    retryable: (error: unknown) => boolean,
    attempt: (
      primary: RouterNode<N>,
      last: { readonly name: string; readonly error: unknown },
    ) => Promise<T>,
  ): Promise<T> {
    for (let n = 1; ; n++) {
      await this.recover(failed, error, n <= this.#host.nodes.length && retryable(error));
      const primary = this.#host.current().primary;
      try {
        return await attempt(primary, { name: failed.name, error });
      } catch (next) {
        failed = primary;
        error = next;
      }
    }
  }

  /**
   * Notes an error of a statement that is not retried (inside a transaction): when it means the
   * primary may be gone, starts re-discovery so that the next transaction goes to the new primary.
   */
  notice(error: unknown): void {
    if (lostPrimary(error)) this.#open(error).catch(() => undefined);
  }

  /** Discovers now; rejects with `SPLIT_BRAIN` or `NO_PRIMARY` (after `failoverMs`). */
  async discover(): Promise<Topology> {
    const window = this.#window ?? this.#open(undefined, 0);
    await window;
    const { primary, replicas } = this.#host.current();
    return { primary: primary.name, replicas: replicas.map((r) => r.name) };
  }

  /**
   * The periodic check (every `probeIntervalMs`, outside failover windows): applies a changed
   * topology when exactly one node accepts writes (a promotion noticed before any write failed,
   * an old primary back as a standby), flags split brain when several do, and changes nothing
   * when none does.
   */
  check(): Promise<void> {
    if (this.#checking !== undefined || this.#window !== undefined || this.#host.closed())
      return this.#checking ?? Promise.resolve();
    this.#checking = (async () => {
      const round = await this.#round();
      if (this.#window !== undefined || this.#host.closed()) return;
      if (round.writable.length > 1) {
        this.#flagSplitBrain(round);
        return;
      }
      this.#splitBrain = undefined;
      const [primary] = round.writable;
      if (primary !== undefined) this.#applyIfChanged(primary, round);
    })()
      .catch(() => undefined)
      .finally(() => {
        this.#checking = undefined;
      });
    return this.#checking;
  }

  /** Opens a failover window (or joins the open one). */
  #open(cause: unknown, waitMs = this.#host.failoverMs): Promise<RouterNode<N>> {
    if (this.#window !== undefined) return this.#window;
    const deadline = Date.now() + waitMs;
    const window = this.#poll(deadline, cause).finally(() => {
      if (this.#window === window) this.#window = undefined;
    });
    this.#window = window;
    window.catch(() => undefined);
    return window;
  }

  async #poll(deadline: number, cause: unknown): Promise<RouterNode<N>> {
    for (;;) {
      const round = await this.#round();
      if (round.writable.length > 1) throw this.#flagSplitBrain(round);
      this.#splitBrain = undefined;
      const [primary] = round.writable;
      if (primary !== undefined) {
        this.#applyIfChanged(primary, round);
        return primary;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#host.closed()) {
        const reasons = [...round.answers].map(([node, answer]) =>
          answer === 'recovering'
            ? `${node.name}: in recovery`
            : `${node.name}: ${describe(round.errors.get(node))}`,
        );
        throw new KoyoRouterError(
          'NO_PRIMARY',
          `No node accepts writes (${reasons.join('; ')}) after waiting ${this.#host.failoverMs}ms (failoverMs). The write was not run; run it again once a node is promoted.`,
          { cause: cause ?? round.errors.values().next().value },
        );
      }
      await sleep(Math.min(FAILOVER_POLL_MS, left));
    }
  }

  /** Asks every node whether it is in recovery, all at once. */
  async #round(): Promise<Round<N>> {
    const host = this.#host;
    const answers = new Map<RouterNode<N>, Answer>();
    const errors = new Map<RouterNode<N>, unknown>();
    await Promise.all(
      host.nodes.map(async (node) => {
        try {
          const text = await host.probe(node, 'SELECT pg_is_in_recovery()::text');
          answers.set(node, text === 'false' ? 'writable' : 'recovering');
        } catch (error) {
          answers.set(node, 'unreachable');
          errors.set(node, error);
        }
      }),
    );
    const writable = host.nodes.filter(
      (node) => answers.get(node) === 'writable' && (host.discover || host.candidates.has(node)),
    );
    return { answers, errors, writable };
  }

  #flagSplitBrain(round: Round<N>): KoyoRouterError {
    const names = round.writable.map((node) => node.name);
    const error = new KoyoRouterError(
      'SPLIT_BRAIN',
      `${names.length} nodes accept writes (${names.join(', ')}): only one may be the primary, and the router will not guess which. Fence the old primary (stop it or make it a standby); writes resume once exactly one node accepts them.`,
    );
    if (this.#splitBrain === undefined)
      this.#host.log(
        `Primary: split brain (${names.join(', ')} accept writes)`,
        'split-brain',
        names.join(','),
        error,
      );
    this.#splitBrain = error;
    return error;
  }

  #applyIfChanged(primary: RouterNode<N>, round: Round<N>): void {
    const host = this.#host;
    const current = host.current();
    let replicas: RouterNode<N>[];
    if (host.discover) {
      const previous = new Set(current.replicas);
      replicas = host.nodes.filter((node) => {
        if (node === primary) return false;
        const answer = round.answers.get(node);
        // An unreachable replica stays (ejection keeps reads off it); an unreachable ex-primary
        // joins only once it answers as a standby.
        return answer === 'recovering' || (answer === 'unreachable' && previous.has(node));
      });
    } else {
      replicas = host.listedReplicas.filter((node) => node !== primary);
    }
    const same =
      current.primary === primary &&
      current.replicas.length === replicas.length &&
      current.replicas.every((node, i) => node === replicas[i]);
    if (same) return;
    const was = current.primary;
    host.apply(primary, replicas);
    if (was !== primary) {
      this.failovers++;
      host.log(
        `Primary: ${primary.name} is the primary (was ${was.name}); replicas: ${replicas.map((r) => r.name).join(', ') || 'none'}`,
        'failover',
        primary.name,
        undefined,
      );
    } else {
      host.log(
        `Primary: ${primary.name}; replicas now: ${replicas.map((r) => r.name).join(', ') || 'none'}`,
        'failover',
        primary.name,
        undefined,
      );
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
