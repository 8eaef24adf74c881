import type { RouterNode } from './driver.js';
import { formatLsn } from './lsn.js';
import type { ReplicaStatus } from './strategy.js';

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

/** @internal what the router knows of one node: counters, health, last replay position and lag. */
export class NodeState<N> {
  queries = 0;
  reads = 0;
  writes = 0;
  errors = 0;
  ejections = 0;
  ejectedUntil: number | undefined = undefined;
  lastError: unknown = undefined;
  /** Highest replay position seen (probes, read-your-writes checks); it only grows. */
  replayLsn: bigint | undefined = undefined;
  lagBytes: number | undefined = undefined;
  lagMs: number | undefined = undefined;
  withinLag = true;
  constructor(
    readonly node: RouterNode<N>,
    /** Position among the replicas, -1 for the primary (changes after a failover). */
    public index: number,
  ) {}

  /**
   * A position a read-your-writes check on this replica did not see replayed in time: reads that
   * need it or later are not sent here on speculation until the replica is seen past it.
   */
  behind: bigint | undefined = undefined;

  /** Raises the known replay position to `lsn` (never lowers it: replay only moves forward). */
  replayed(lsn: bigint): void {
    if (this.replayLsn === undefined || lsn > this.replayLsn) this.replayLsn = lsn;
    if (this.behind !== undefined && lsn >= this.behind) this.behind = undefined;
  }

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
