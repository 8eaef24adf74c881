import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { BatchObservableResult, Counter, Histogram, Observable } from '@opentelemetry/api';
import type { ReplicaStatus } from './strategy.js';
import type { RouterStats } from './router.js';

let api: typeof OtelApi | null | undefined;

/**
 * `@opentelemetry/api` when installed (an optional peer dependency), else `null`. The router is
 * independent of the replication packages, so it loads the API itself (as `@koyo/slot`'s
 * `koyoMeter` does for them).
 */
function loadApi(): typeof OtelApi | null {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as typeof OtelApi;
    } catch {
      api = null;
    }
  }
  return api;
}

/**
 * The instruments observed at collection time from `stats()` and `replicaStatus()`, in the order
 * the batch callback destructures them.
 */
const OBSERVED: readonly {
  kind: 'gauge' | 'counter';
  name: string;
  description: string;
  unit?: string;
}[] = [
  {
    kind: 'gauge',
    name: 'koyo.router.replica.lag',
    description:
      "Bytes of WAL a replica has yet to replay, as last probed (only when lag is probed: maxLag, 'least-lag', read-your-writes 'lsn').",
    unit: 'By',
  },
  {
    kind: 'gauge',
    name: 'koyo.router.replica.lag.time',
    description: 'How far behind the primary a replica is in time, as last probed.',
    unit: 's',
  },
  {
    kind: 'gauge',
    name: 'koyo.router.replica.healthy',
    description: '1 when the replica takes reads (not ejected), else 0.',
  },
  {
    kind: 'counter',
    name: 'koyo.router.ejections',
    description: 'Times a replica was ejected after a connection error.',
  },
  {
    kind: 'counter',
    name: 'koyo.router.retries',
    description: 'Reads retried on another node after a replica failed.',
  },
  {
    kind: 'counter',
    name: 'koyo.router.fallbacks',
    description: 'Reads that wanted a replica and went to the primary because none was usable.',
  },
];

/**
 * The router's OpenTelemetry instruments. `koyo.router.queries` and the read-your-writes wait
 * are recorded as they happen; lag, ejections and retries are observed from `stats()` and
 * `replicaStatus()` at collection time. Without an SDK every call is a no-op.
 */
export class RouterMetrics {
  readonly #queries: Counter;
  readonly #rywWait: Histogram;
  readonly #stop: () => void;

  constructor(read: () => { stats: RouterStats; replicas: ReplicaStatus[] }) {
    const meter = loadApi()!.metrics.getMeter('@koyo/router');
    this.#queries = meter.createCounter('koyo.router.queries', {
      description: 'Statements routed, by node, role and reason (retries included).',
    });
    this.#rywWait = meter.createHistogram('koyo.router.read_your_writes.wait', {
      description:
        "Time a read waited for a replica to replay the session's last write (read-your-writes 'lsn' mode), by outcome.",
      unit: 's',
      advice: {
        explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      },
    });
    const observables = OBSERVED.map(({ kind, name, ...options }) =>
      kind === 'gauge'
        ? meter.createObservableGauge(name, options)
        : meter.createObservableCounter(name, options),
    );
    const [lagBytes, lagSeconds, healthy, ejections, retries, fallbacks] = observables as [
      Observable,
      Observable,
      Observable,
      Observable,
      Observable,
      Observable,
    ];
    const callback = (result: BatchObservableResult): void => {
      const { stats, replicas } = read();
      for (const r of replicas) {
        const attributes = { replica: r.name };
        if (r.lagBytes !== undefined) result.observe(lagBytes, r.lagBytes, attributes);
        if (r.lagMs !== undefined) result.observe(lagSeconds, r.lagMs / 1000, attributes);
        result.observe(healthy, r.healthy ? 1 : 0, attributes);
      }
      for (const n of stats.replicas) result.observe(ejections, n.ejections, { replica: n.name });
      result.observe(retries, stats.retries);
      result.observe(fallbacks, stats.fallbacks);
    };
    meter.addBatchObservableCallback(callback, observables);
    this.#stop = () => meter.removeBatchObservableCallback(callback, observables);
  }

  /** The router's metrics, or `null` when `@opentelemetry/api` is not installed. */
  static create(
    read: () => { stats: RouterStats; replicas: ReplicaStatus[] },
  ): RouterMetrics | null {
    return loadApi() ? new RouterMetrics(read) : null;
  }

  /** One routed statement. */
  query(node: string, role: string, reason: string): void {
    this.#queries.add(1, { node, role, reason });
  }

  /** A read-your-writes wait that ended `replica` (a replica caught up) or `primary` (it timed out). */
  rywWait(ms: number, outcome: 'replica' | 'primary'): void {
    this.#rywWait.record(ms / 1000, { outcome });
  }

  /** Unregisters the observable instruments (the router closed). */
  close(): void {
    this.#stop();
  }
}
