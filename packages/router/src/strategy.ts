/** Health and lag of one replica, as the router last saw it. */
export interface ReplicaStatus {
  /** Name given to the replica (`replica1`, ...). */
  readonly name: string;
  /** Position in the `replicas` option. */
  readonly index: number;
  /** Weight for the `weighted` strategy. */
  readonly weight: number;
  /** False while the replica is ejected after a connection error (or, for a custom strategy, out of the lag bound). */
  readonly healthy: boolean;
  /** When an ejected replica will next be probed (epoch ms). */
  readonly ejectedUntil: number | undefined;
  /** False when the last probe found it beyond `maxLag`. */
  readonly withinLag: boolean;
  /** WAL bytes not yet replayed, at the last probe (undefined before the first one). */
  readonly lagBytes: number | undefined;
  /** Milliseconds behind the primary, at the last probe. */
  readonly lagMs: number | undefined;
  /** `pg_last_wal_replay_lsn()` at the last probe. */
  readonly replayLsn: string | undefined;
  /** The last error seen on it. */
  readonly lastError: unknown;
}

/** What a custom strategy is told about the statement. */
export interface StrategyQuery {
  /** Always `read`: writes never reach a strategy. */
  readonly kind: 'read';
  /** First keyword (`SELECT`, `WITH`, `SHOW`, ...). */
  readonly command: string;
  /** The SQL text. */
  readonly sql: string;
}

/**
 * A custom replica picker: gets the statement and every replica's status; returns a replica (its
 * status, name or index), or null/undefined for "none", which applies `fallback`.
 *
 * @example
 * const nearest: StrategyFunction = (_query, replicas) =>
 *   replicas.find((r) => r.healthy && r.withinLag && r.name === 'replica-eu') ?? replicas.find((r) => r.healthy && r.withinLag);
 */
export type StrategyFunction = (
  query: StrategyQuery,
  replicas: readonly ReplicaStatus[],
) => ReplicaStatus | string | number | null | undefined;

/** How a replica is picked for a read. */
export type Strategy = 'random' | 'round-robin' | 'weighted' | 'least-lag' | StrategyFunction;

interface Candidate {
  readonly index: number;
  readonly lagBytes: number | undefined;
  readonly node: { readonly weight?: number };
}

/** @internal picks among usable replicas with a built-in strategy; undefined when there are none. */
export function selectReplica<C extends Candidate>(
  strategy: Exclude<Strategy, StrategyFunction>,
  candidates: readonly C[],
  rr: { next: number },
): C | undefined {
  const n = candidates.length;
  if (n <= 1) return candidates[0];
  switch (strategy) {
    case 'random':
      return candidates[Math.floor(Math.random() * n)];
    case 'round-robin': {
      const i = rr.next++ % n;
      if (rr.next > 0x3fffffff) rr.next = 0;
      return candidates[i];
    }
    case 'weighted': {
      let total = 0;
      for (const c of candidates) total += c.node.weight ?? 1;
      let x = Math.random() * total;
      for (const c of candidates) {
        x -= c.node.weight ?? 1;
        if (x < 0) return c;
      }
      return candidates[n - 1];
    }
    case 'least-lag': {
      // Lowest known lag; ties (typically all at 0) rotate so equal replicas share the load.
      const start = rr.next++ % n;
      if (rr.next > 0x3fffffff) rr.next = 0;
      let best: C | undefined;
      let bestLag = Infinity;
      for (let k = 0; k < n; k++) {
        const c = candidates[(start + k) % n]!;
        const lag = c.lagBytes ?? Number.MAX_SAFE_INTEGER;
        if (lag < bestLag) {
          best = c;
          bestLag = lag;
        }
      }
      return best;
    }
  }
}
