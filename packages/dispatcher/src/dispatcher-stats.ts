import { formatLsn } from '@koyo/pgoutput';
import type { WireStream } from './_backend.js';
import type { BackfillRunner } from './backfill-runner.js';
import type { DeliveryCounters } from './delivery.js';
import type { Engine } from './engine.js';
import type { KoyoDispatcherError } from './errors.js';
import type { DispatcherMetrics } from './metrics.js';
import type { SlotWatch } from './slot-watch.js';
import type { DispatcherState, DispatcherStats } from './types.js';

/** Seconds of change counts behind `changesPerSecond`. */
const RATE_WINDOW = 10;

/**
 * @internal the change rate of the last {@link RATE_WINDOW} seconds: one sample of the change
 * count a second, the rate from the oldest sample kept to the current count.
 */
export class ChangeRate {
  private samples: number[] = [];

  /** Records the change count now (called once a second). */
  sample(changes: number): void {
    this.samples.push(changes);
    if (this.samples.length > RATE_WINDOW + 1) this.samples.shift();
  }

  /** Changes per second over the samples kept, up to `changes` now. */
  perSecond(changes: number): number {
    const samples = this.samples;
    const oldest = samples.length > 0 ? samples[0]! : changes;
    return Math.round((changes - oldest) / Math.max(1, samples.length));
  }
}

/** @internal the parts of a dispatcher that {@link collectStats} reads. */
export interface StatsSources {
  state: DispatcherState;
  stream: WireStream | null;
  engine: Engine | null;
  counters: DeliveryCounters;
  error: KoyoDispatcherError | null;
  runner: BackfillRunner | null;
  metrics: DispatcherMetrics;
  slotWatch: SlotWatch | null;
  rate: ChangeRate;
}

/** @internal the dispatcher's {@link DispatcherStats} at this moment. */
export function collectStats(s: StatsSources): DispatcherStats {
  const { stream, engine, counters } = s;
  const tracker = engine?.tracker;
  const received = stream ? stream.receivedLsn : 0n;
  let acknowledged = tracker ? tracker.acknowledged : 0n;
  if (stream && stream.flushedLsn > acknowledged) acknowledged = stream.flushedLsn;
  const changes = engine ? engine.counters.changes : 0;
  const handlerTime = s.metrics.window();
  return {
    state: s.state,
    receivedLsn: formatLsn(received),
    acknowledgedLsn: formatLsn(acknowledged),
    lagBytes: received > acknowledged ? Number(received - acknowledged) : 0,
    changes,
    changesPerSecond: s.rate.perSecond(changes),
    transactions: tracker ? tracker.completed : 0,
    messages: engine ? engine.counters.messages : 0,
    handlerErrors: counters.handlerErrors,
    retries: counters.retries,
    skipped: counters.skipped,
    deadLettered: counters.deadLettered,
    inFlight: counters.inFlight,
    pending: engine ? engine.pending : 0,
    error: s.error ? s.error.message : null,
    backfill: s.runner ? s.runner.stats() : [],
    tables: s.metrics.tableCounts(),
    handlerP50Ms: handlerTime.p50Ms,
    handlerP99Ms: handlerTime.p99Ms,
    lastHandlerError: counters.lastError,
    lastCommitTime: s.metrics.lastCommitTime,
    reconnects: stream?.reconnects ?? 0,
    slot: s.slotWatch?.latest ?? null,
  };
}
