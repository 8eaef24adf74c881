import type { DispatcherStats } from '@koyo/dispatcher';
import type { ReplicaStatus, RouterStats } from '@koyo/router';

/** What the status page reads from a dispatcher: `createDispatcher(...)` fits. */
export interface StatusDispatcher {
  stats(): DispatcherStats;
}

/** What the status page reads from a router: `pool.router` / `sql.router` fits. */
export interface StatusRouter {
  stats(): RouterStats;
  replicaStatus(): ReplicaStatus[];
}

/** One replica in a {@link StatusSample}. */
export interface ReplicaSample {
  name: string;
  healthy: boolean;
  withinLag: boolean;
  lagBytes: number | null;
  lagMs: number | null;
  queries: number;
  ejections: number;
  lastError: string | null;
}

/** One second of state, as sent to the page (`event: sample`) and kept for the charts. */
export interface StatusSample {
  /** Unix time in seconds. */
  t: number;
  dispatcher: {
    state: string;
    lagBytes: number;
    changesPerSecond: number;
    /** Changes per second per table over the last sample. */
    tableRates: Record<string, number>;
    changes: number;
    transactions: number;
    handlerP50Ms: number | null;
    handlerP99Ms: number | null;
    handlerErrors: number;
    retries: number;
    deadLettered: number;
    skipped: number;
    pending: number;
    reconnects: number;
    acknowledgedLsn: string;
    receivedLsn: string;
    lastCommitTime: string | null;
    lastError: { message: string; at: string } | null;
    error: string | null;
    backfill: DispatcherStats['backfill'];
  } | null;
  router: {
    primary: { name: string; queries: number; errors: number };
    replicas: ReplicaSample[];
    queriesPerSecond: number;
    fallbacks: number;
    retries: number;
    readYourWrites: number;
  } | null;
}

/**
 * Samples a dispatcher and a router once per second and keeps the last `historySeconds`
 * samples (a ring), so a page that opens later still draws the last 15 minutes.
 */
export class StatusSampler {
  readonly #history: StatusSample[] = [];
  readonly #listeners = new Set<(sample: StatusSample) => void>();
  #lastTables = new Map<string, number>();
  #lastQueries: number | undefined;
  #lastAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dispatcher: StatusDispatcher | undefined,
    private readonly router: StatusRouter | undefined,
    private readonly historySeconds: number,
  ) {}

  start(intervalMs: number): void {
    this.tick();
    this.#timer = setInterval(() => this.tick(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#listeners.clear();
  }

  /** The samples kept, oldest first. */
  history(): readonly StatusSample[] {
    return this.#history;
  }

  /** Calls `listener` with every new sample; returns the function that stops it. */
  subscribe(listener: (sample: StatusSample) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Takes one sample now. */
  tick(): StatusSample {
    const now = Date.now();
    const seconds = this.#lastAt === 0 ? 1 : Math.max(0.001, (now - this.#lastAt) / 1000);
    this.#lastAt = now;
    const sample: StatusSample = {
      t: Math.round(now / 1000),
      dispatcher: this.dispatcher ? this.#dispatcherSample(this.dispatcher.stats(), seconds) : null,
      router: this.router ? this.#routerSample(this.router, seconds) : null,
    };
    this.#history.push(sample);
    if (this.#history.length > this.historySeconds) this.#history.shift();
    for (const listener of this.#listeners) listener(sample);
    return sample;
  }

  #dispatcherSample(s: DispatcherStats, seconds: number): NonNullable<StatusSample['dispatcher']> {
    const tableRates: Record<string, number> = {};
    const counts = new Map<string, number>();
    for (const { table, changes } of s.tables) {
      counts.set(table, changes);
      const before = this.#lastTables.get(table);
      tableRates[table] = round((changes - (before ?? 0)) / seconds);
    }
    this.#lastTables = counts;
    return {
      state: s.state,
      lagBytes: s.lagBytes,
      changesPerSecond: s.changesPerSecond,
      tableRates,
      changes: s.changes,
      transactions: s.transactions,
      handlerP50Ms: s.handlerP50Ms,
      handlerP99Ms: s.handlerP99Ms,
      handlerErrors: s.handlerErrors,
      retries: s.retries,
      deadLettered: s.deadLettered,
      skipped: s.skipped,
      pending: s.pending,
      reconnects: s.reconnects,
      acknowledgedLsn: s.acknowledgedLsn,
      receivedLsn: s.receivedLsn,
      lastCommitTime: s.lastCommitTime,
      lastError: s.lastHandlerError,
      error: s.error,
      backfill: s.backfill,
    };
  }

  #routerSample(router: StatusRouter, seconds: number): NonNullable<StatusSample['router']> {
    const stats = router.stats();
    const status = new Map(router.replicaStatus().map((r) => [r.name, r]));
    let queries = stats.primary.queries;
    const replicas = stats.replicas.map((n): ReplicaSample => {
      queries += n.queries;
      const r = status.get(n.name);
      return {
        name: n.name,
        healthy: r?.healthy ?? true,
        withinLag: r?.withinLag ?? true,
        lagBytes: r?.lagBytes ?? null,
        lagMs: r?.lagMs ?? null,
        queries: n.queries,
        ejections: n.ejections,
        lastError: r?.lastError === undefined ? null : errorText(r.lastError),
      };
    });
    const before = this.#lastQueries;
    this.#lastQueries = queries;
    return {
      primary: {
        name: stats.primary.name,
        queries: stats.primary.queries,
        errors: stats.primary.errors,
      },
      replicas,
      queriesPerSecond: before === undefined ? 0 : round((queries - before) / seconds),
      fallbacks: stats.fallbacks,
      retries: stats.retries,
      readYourWrites: stats.readYourWrites,
    };
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
