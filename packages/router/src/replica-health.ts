import type { RouterNode } from './driver.js';
import { KoyoRouterError } from './errors.js';
import { PrimaryFollower } from './failover.js';
import { isConnectionError, withTimeout } from './health.js';
import { formatBytes, formatLsn, parseLsn } from './lsn.js';
import { NodeState } from './node-state.js';
import type { ResolvedRouterOptions } from './router-options.js';

/**
 * The primary's WAL position now (lag probes; a write's position for read-your-writes). The insert
 * position, not `pg_current_wal_lsn()` (the write position): with `synchronous_commit = off` a
 * commit record may be inserted but not yet written, and a replica at the write position would
 * pass a check for a commit it has not replayed.
 */
export const PRIMARY_POSITION_SQL = 'SELECT pg_current_wal_insert_lsn()::text';
/** A standby's replay position now. */
export const REPLAY_POSITION_SQL = 'SELECT pg_last_wal_replay_lsn()::text';

/**
 * A standby's replay position once it is at `lsn` or later, waiting for it on the server; no row
 * if it did not get there. Sent just before a read on the same connection, so a replica a moment
 * behind serves the read in the same round trip. The wait first re-reads the position 6,000 times
 * (well under a millisecond: a replica on a fast link replays a commit within a few tenths of a
 * millisecond, and `pg_sleep` cannot sleep less than 1 ms), then sleeps 1 ms at a time, 10 times
 * at most. The series is in the select list so that its rows are made one at a time (in FROM,
 * all of them would be made first).
 */
export function replayCheckSql(lsn: bigint): string {
  return `SELECT pg_last_wal_replay_lsn()::text FROM (SELECT generate_series(1, 6010) AS g) s WHERE pg_last_wal_replay_lsn() >= '${formatLsn(lsn)}'::pg_lsn OR (g > 6000 AND pg_sleep(0.001) IS NULL) LIMIT 1`;
}

/**
 * @internal the nodes and their health: which node is the primary, which replicas take reads
 * (`eligible`), the probe loop (replay positions, lag samples, reinstating ejected replicas),
 * ejection, and the count of statements and probes in flight.
 */
export class ReplicaHealth<N> {
  primary: NodeState<N>;
  replicas: NodeState<N>[] = [];
  /** Replicas that are neither ejected nor beyond `maxLag`. */
  eligible: NodeState<N>[] = [];
  /** Reason of a read that falls back to the primary: `replicas-unavailable` or `lag>...`. */
  fallbackReason = 'replicas-unavailable';
  closed = false;
  /** Every node's state, by node (they keep their counters across role changes). */
  readonly states = new Map<RouterNode<N>, NodeState<N>>();
  /** Statements and probes started and not settled yet (see {@link ReplicaHealth.settled}). */
  #inFlight = 0;
  #whenIdle: (() => void)[] = [];
  readonly #o: ResolvedRouterOptions<N>;
  readonly #samples: { lsn: bigint; at: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #probing: Promise<void> | undefined;

  constructor(o: ResolvedRouterOptions<N>) {
    this.#o = o;
    for (const node of o.nodes) this.states.set(node, new NodeState(node, -1));
    const first = o.candidates[0]!;
    this.primary = this.states.get(first)!;
    this.setTopology(
      first,
      o.replicas.filter((node) => node !== first),
    );
  }

  /** Makes `primary` the primary and `replicas` the replica set (states keep their counters). */
  setTopology(primary: RouterNode<N>, replicas: readonly RouterNode<N>[]): void {
    this.primary = this.states.get(primary)!;
    this.primary.index = -1;
    this.replicas = replicas.map((node, i) => {
      const state = this.states.get(node)!;
      state.index = i;
      return state;
    });
    this.#samples.length = 0;
    this.recompute();
  }

  /** The follower of a router that follows the primary: it reads and applies this topology. */
  follower(): PrimaryFollower<N> {
    const o = this.#o;
    return new PrimaryFollower<N>({
      nodes: o.nodes,
      candidates: new Set(o.candidates),
      listedReplicas: o.replicas,
      discover: o.discover,
      failoverMs: o.failoverMs,
      intervalMs: o.probeIntervalMs,
      current: () => ({
        primary: this.primary.node,
        replicas: this.replicas.map((r) => r.node),
      }),
      apply: (primary, replicas) => {
        this.setTopology(primary, replicas);
        this.startProbing();
      },
      probe: (node, sql) => this.probeNode(this.states.get(node)!, sql),
      log: (line, event, node, error) =>
        o.logger?.(line, { event, node, role: 'primary', reason: event, sql: undefined, error }),
      closed: () => this.closed,
    });
  }

  /** Starts the probe loop (no-op while running, without replicas, or once closed). */
  startProbing(): void {
    if (this.#timer !== undefined || this.replicas.length === 0 || this.closed) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.probeIntervalMs);
    this.#timer.unref();
    if (this.#o.needLag) void this.tick();
  }

  /** Stops probing. */
  close(): void {
    this.closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Counts a statement or probe as started; {@link ReplicaHealth.finish} counts it as settled. A
   * counter rather than a set of promises: a routed statement calls both from its own body, which
   * costs no promise or closure per statement.
   */
  start(): void {
    this.#inFlight++;
  }

  /** Counts a statement or probe from {@link ReplicaHealth.start} as settled. */
  finish(): void {
    if (--this.#inFlight > 0) return;
    const waiting = this.#whenIdle;
    this.#whenIdle = [];
    for (const resolve of waiting) resolve();
  }

  /** Counts `promise` as started until it settles. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.start();
    const done = (): void => this.finish();
    promise.then(done, done);
    return promise;
  }

  /** Resolves once every started statement and probe has settled. */
  async settled(): Promise<void> {
    while (this.#inFlight > 0) await new Promise<void>((resolve) => this.#whenIdle.push(resolve));
  }

  /** Runs a probe on `node`, bounded by `probeTimeoutMs` (`PROBE_TIMEOUT`). */
  probeNode(node: NodeState<N>, sql: string): Promise<string | null> {
    const ms = this.#o.probeTimeoutMs;
    return this.track(
      withTimeout(
        node.node.probe(sql),
        ms,
        () =>
          new KoyoRouterError(
            'PROBE_TIMEOUT',
            `Probe of ${node.node.name} timed out after ${ms}ms.`,
          ),
      ),
    );
  }

  /**
   * Asks replica `r` for its replay position and raises its known one; ejects it on a connection
   * error (other errors leave it as it was). Resolves with the position, or undefined.
   */
  async probeReplay(r: NodeState<N>): Promise<bigint | undefined> {
    try {
      const text = await this.probeNode(r, REPLAY_POSITION_SQL);
      if (text === null) return undefined;
      const replay = parseLsn(text);
      r.replayed(replay);
      return replay;
    } catch (error) {
      if (isConnectionError(error)) this.eject(r, error);
      return undefined;
    }
  }

  /** Takes replica `node` out of reads for `ejectMs` after a connection error. */
  eject(node: NodeState<N>, error: unknown): void {
    const wasHealthy = node.ejectedUntil === undefined;
    const ejectMs = this.#o.ejectMs;
    node.ejectedUntil = Date.now() + ejectMs;
    node.lastError = error;
    if (!wasHealthy) return;
    node.ejections++;
    this.recompute();
    this.#o.logger?.(
      `Replica: ${node.node.name} ejected for ${ejectMs}ms (${errorMessage(error)})`,
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

  /** Recomputes the eligible replicas and the fallback reason. */
  recompute(): void {
    const eligible: NodeState<N>[] = [];
    let lagging = 0;
    for (const r of this.replicas) {
      if (r.ejectedUntil !== undefined) continue;
      if (!r.withinLag) {
        lagging++;
        continue;
      }
      eligible.push(r);
    }
    this.eligible = eligible;
    const bound = this.#o.maxLag;
    if (lagging > 0 && bound !== undefined) {
      this.fallbackReason =
        bound.bytes !== undefined &&
        this.replicas.some((r) => r.lagBytes !== undefined && r.lagBytes > bound.bytes!)
          ? `lag>${formatBytes(bound.bytes)}`
          : `lag>${bound.ms}ms`;
    } else {
      this.fallbackReason = 'replicas-unavailable';
    }
  }

  /** One probe round (joins the one under way). */
  tick(): Promise<void> {
    if (this.#probing !== undefined) return this.#probing;
    this.#probing = this.#probeAll().finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  async #probeAll(): Promise<void> {
    if (this.closed) return;
    const needLag = this.#o.needLag;
    const now = Date.now();
    const due = this.replicas.filter((r) =>
      r.ejectedUntil === undefined ? needLag : now >= r.ejectedUntil,
    );
    if (due.length === 0) return;
    const primaryLsn = needLag ? await this.#samplePrimary(now) : undefined;
    await Promise.all(due.map((r) => this.#probeReplica(r, primaryLsn, now)));
    this.recompute();
  }

  /** The primary's position now, kept as a lag sample; undefined when it does not answer. */
  async #samplePrimary(now: number): Promise<bigint | undefined> {
    let primaryLsn: bigint | undefined;
    try {
      const text = await this.probeNode(this.primary, PRIMARY_POSITION_SQL);
      if (text !== null) primaryLsn = parseLsn(text);
    } catch {
      // primary unreachable: keep the last lag figures
    }
    if (primaryLsn !== undefined) {
      const samples = this.#samples;
      const last = samples[samples.length - 1];
      if (last === undefined || primaryLsn > last.lsn) samples.push({ lsn: primaryLsn, at: now });
      while (samples.length > 1000) samples.shift();
    }
    return primaryLsn;
  }

  async #probeReplica(r: NodeState<N>, primaryLsn: bigint | undefined, now: number): Promise<void> {
    let text: string | null;
    try {
      text = await this.probeNode(r, REPLAY_POSITION_SQL);
    } catch (error) {
      if (r.ejectedUntil !== undefined) {
        r.ejectedUntil = Date.now() + this.#o.ejectMs;
        r.lastError = error;
      } else if (isConnectionError(error)) {
        this.eject(r, error);
      }
      return;
    }
    if (text !== null) {
      const replay = parseLsn(text);
      r.replayLsn = replay;
      if (r.behind !== undefined && replay >= r.behind) r.behind = undefined;
      if (primaryLsn !== undefined) {
        r.lagBytes = replay >= primaryLsn ? 0 : Number(primaryLsn - replay);
        r.lagMs = this.#lagMs(replay, primaryLsn, now);
      }
    }
    const bound = this.#o.maxLag;
    r.withinLag =
      bound === undefined ||
      ((bound.bytes === undefined || r.lagBytes === undefined || r.lagBytes <= bound.bytes) &&
        (bound.ms === undefined || r.lagMs === undefined || r.lagMs <= bound.ms));
    if (r.ejectedUntil !== undefined) {
      r.ejectedUntil = undefined;
      this.#o.logger?.(`Replica: ${r.node.name} reinstated (probe succeeded)`, {
        event: 'reinstate',
        node: r.node.name,
        role: 'replica',
        reason: 'probe-succeeded',
        sql: undefined,
        error: undefined,
      });
    }
  }

  /** How long ago the primary was first seen past `replay`. */
  #lagMs(replay: bigint, primaryLsn: bigint, now: number): number {
    if (replay >= primaryLsn) return 0;
    for (const sample of this.#samples) {
      if (sample.lsn > replay) return now - sample.at;
    }
    return 0;
  }
}

/** The message of an error, or the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
