import { KoyoRouterError } from './errors.js';
import type { FollowOptions } from './failover.js';
import type { Role } from './context.js';
import type { RouterNode } from './driver.js';
import type { Strategy } from './strategy.js';

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
  /**
   * Record the primary's WAL position after each write. A later read goes to a replica known to
   * have replayed it; else, after the session's own write, straight to the primary (`ownWrites:
   * 'primary'`, the default) or, with `ownWrites: 'wait'`, to a replica after waiting up to
   * `waitMs` (default 200) for one to replay it. Positions from tokens and `readAfter` are always
   * waited for.
   */
  | {
      readonly mode: 'lsn';
      readonly waitMs?: number;
      /**
       * Where a read goes right after the session's own write while no replica is known to have
       * replayed it: `'primary'` (default: no waiting, no extra round trip) or `'wait'` (a replica,
       * after up to `waitMs`: more reads offloaded, each slower).
       */
      readonly ownWrites?: 'primary' | 'wait';
    }
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

/**
 * A {@link RouterConfig} validated and defaulted by {@link resolveRouterOptions}: frozen, every
 * option present, the primary candidates as a list. The router's parts receive this and never
 * check options again.
 */
export interface ResolvedRouterOptions<N> {
  /** Primary candidates, the first one used until discovery says otherwise. */
  readonly candidates: readonly RouterNode<N>[];
  readonly replicas: readonly RouterNode<N>[];
  /** Every node once (candidates and replicas). */
  readonly nodes: readonly RouterNode<N>[];
  /** A `primary` list or `discover`: the router follows the primary. */
  readonly following: boolean;
  readonly discover: boolean;
  readonly failoverMs: number;
  readonly strategy: Strategy;
  readonly defaultRole: Role | undefined;
  readonly ignoreTransactions: boolean;
  readonly fallback: 'primary' | 'error';
  readonly ejectMs: number;
  readonly maxLag: MaxLag | undefined;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly readYourWrites: ReadYourWritesOption;
  readonly volatileFunctions: readonly string[] | undefined;
  readonly logger: RouterOptions['logger'];
  /** Whether probes measure lag (a lag bound, a lag-aware strategy or `lsn` read-your-writes). */
  readonly needLag: boolean;
}

/**
 * Validates and defaults a router's configuration in one place; throws `INVALID_OPTION` with
 * what to change. Returns a frozen {@link ResolvedRouterOptions}.
 *
 * @example
 * const resolved = resolveRouterOptions({ primary, replicas: [], maxLag: { bytes: 1 << 20 } });
 * resolved.ejectMs; // 5000
 */
export function resolveRouterOptions<N>(config: RouterConfig<N>): ResolvedRouterOptions<N> {
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
    if (typeof ryw !== 'object' || ryw === null || (ryw.mode !== 'lsn' && ryw.mode !== 'window')) {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        "readYourWrites: expected false, { mode: 'lsn', waitMs?, ownWrites? } or { mode: 'window', ms }.",
      );
    }
    if (ryw.mode === 'lsn') {
      checkNumber('readYourWrites.waitMs', ryw.waitMs, 0);
      checkChoice('readYourWrites.ownWrites', ryw.ownWrites, ['primary', 'wait']);
    } else {
      if (typeof ryw.ms !== 'number')
        throw new KoyoRouterError('INVALID_OPTION', "readYourWrites: { mode: 'window' } needs ms.");
      checkNumber('readYourWrites.ms', ryw.ms, 0);
    }
  }
  o.replicas.forEach((replica, i) => {
    if (replica.weight !== undefined && !(replica.weight > 0 && Number.isFinite(replica.weight))) {
      throw new KoyoRouterError(
        'INVALID_OPTION',
        `replicas[${i}].weight: expected a positive number, got ${String(replica.weight)}.`,
      );
    }
  });
  const candidates: readonly RouterNode<N>[] = Array.isArray(o.primary)
    ? o.primary
    : [o.primary as RouterNode<N>];
  const nodes = [...new Set([...candidates, ...o.replicas])];
  const following = Array.isArray(o.primary) || o.discover === true;
  if (following && new Set(nodes.map((n) => n.name)).size !== nodes.length) {
    throw new KoyoRouterError(
      'INVALID_OPTION',
      `Node names must be unique to follow the primary; got ${nodes.map((n) => n.name).join(', ')}.`,
    );
  }
  const strategy = o.strategy ?? 'random';
  return Object.freeze({
    candidates,
    replicas: o.replicas,
    nodes,
    following,
    discover: o.discover === true,
    failoverMs: o.failoverMs ?? 30_000,
    strategy,
    defaultRole: o.defaultRole,
    ignoreTransactions: o.ignoreTransactions ?? false,
    fallback: o.fallback ?? 'primary',
    ejectMs: o.ejectMs ?? 5000,
    maxLag: o.maxLag,
    probeIntervalMs: o.probeIntervalMs ?? 1000,
    probeTimeoutMs: o.probeTimeoutMs ?? 2000,
    readYourWrites: ryw,
    volatileFunctions: o.volatileFunctions,
    logger: o.logger,
    needLag:
      o.maxLag !== undefined ||
      strategy === 'least-lag' ||
      typeof strategy === 'function' ||
      (ryw !== false && ryw.mode === 'lsn'),
  });
}

/** Throws `INVALID_OPTION` unless `value` is undefined or one of `allowed` (or a function, if allowed). */
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

/** Throws `INVALID_OPTION` unless `value` is undefined or a finite number >= `min`. */
export function checkNumber(name: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new KoyoRouterError(
      'INVALID_OPTION',
      `${name}: expected a number >= ${min}, got ${JSON.stringify(value)}.`,
    );
  }
}
