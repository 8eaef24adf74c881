import type { Attributes, BatchObservableResult, Histogram } from '@opentelemetry/api';
import { parseLsn } from '@koyo/pgoutput';
import { koyoMeter } from '@koyo/slot';
import type { Change, DispatcherStats } from './types.js';

/** Local latency buckets: bucket i holds durations up to `FIRST_BOUND_MS * 2^i`. */
const FIRST_BOUND_MS = 0.01;
const BUCKETS = 26; // 0.01 ms .. ~5.6 min, then the last bucket takes the rest
const WINDOW_SECONDS = 10;
const LN2 = Math.log(2);
/** OpenTelemetry bucket boundaries for the seconds histograms (advice; an SDK view may override). */
const SECONDS_BOUNDARIES = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Counts of one table, by kind, and the attributes recorded with it. */
interface TableEntry {
  readonly schema: string;
  readonly name: string;
  readonly table: string;
  readonly counts: Record<Change['kind'], number>;
  readonly attributes: Attributes;
}

/** Handler time of the last ~10 seconds, and the latest handler error: what `stats()` shows. */
export interface HandlerWindow {
  p50Ms: number | null;
  p99Ms: number | null;
}

/**
 * The dispatcher's measurements: per-table change counts, handler durations (a local histogram
 * for `stats()` and the OpenTelemetry histogram), commit-to-handler time. The hot path only
 * counts and times; counters reach OpenTelemetry as observable instruments read at collection.
 */
export class DispatcherMetrics {
  private readonly tables = new Map<string, TableEntry>();
  /** The entry of the latest change's table. */
  private last: TableEntry | null = null;
  private readonly buckets = new Float64Array(BUCKETS);
  /**
   * The buckets at each of the last seconds' samples, oldest first; it starts with the empty
   * buckets, so handler runs before the first sample are in the window too.
   */
  private readonly history: Float64Array[] = [new Float64Array(BUCKETS)];
  private duration: Histogram | null = null;
  private commitToHandler: Histogram | null = null;
  private unobserve: (() => void) | null = null;
  /** Commit time (ISO) of the latest transaction the dispatcher started handling. */
  lastCommitTime: string | null = null;

  constructor(private readonly slot: string) {}

  /**
   * A change whose handlers finished; `started` from `performance.now()`, or -1 when no handler
   * ran. Returns the clock reading that ended its handler time (-1 when not timed).
   */
  handled(change: Change, started: number): number {
    let entry = this.last;
    // Runs of changes of one table (a backfill chunk, a bulk write) skip the lookup.
    if (entry === null || entry.schema !== change.schema || entry.name !== change.table)
      entry = this.last = this.entry(change);
    entry.counts[change.kind]++;
    if (started < 0) return -1;
    const ended = performance.now();
    const ms = ended - started;
    const index = ms <= FIRST_BOUND_MS ? 0 : Math.ceil(Math.log(ms / FIRST_BOUND_MS) / LN2);
    this.buckets[index < BUCKETS ? index : BUCKETS - 1]!++;
    // Without an SDK the API's histogram is a no-op; with one, its few hundred nanoseconds fall
    // in the next snapshot row's handler time (it starts at `ended`), far below the first bucket.
    this.duration?.record(ms / 1000, entry.attributes);
    return ended;
  }

  private entry(change: Change): TableEntry {
    const key = change.schema + '.' + change.table;
    let entry = this.tables.get(key);
    if (entry === undefined) {
      entry = {
        schema: change.schema,
        name: change.table,
        table: key,
        counts: { insert: 0, update: 0, delete: 0, truncate: 0, snapshot: 0 },
        attributes: { slot: this.slot, table: key },
      };
      this.tables.set(key, entry);
    }
    return entry;
  }

  /** A transaction starts being handled. */
  began(commitTime: string): void {
    this.lastCommitTime = commitTime;
    if (this.commitToHandler === null) return;
    const at = Date.parse(commitTime);
    if (at === at)
      this.commitToHandler.record(Math.max(0, Date.now() - at) / 1000, { slot: this.slot });
  }

  /** Changes handled per table (`schema.table`), for `stats()`. */
  tableCounts(): { table: string; changes: number }[] {
    const out: { table: string; changes: number }[] = [];
    for (const entry of this.tables.values()) {
      const c = entry.counts;
      out.push({
        table: entry.table,
        changes: c.insert + c.update + c.delete + c.truncate + c.snapshot,
      });
    }
    return out;
  }

  /** Keeps one second of the handler-time window; the dispatcher calls it every second. */
  sample(): void {
    this.history.push(this.buckets.slice());
    if (this.history.length > WINDOW_SECONDS + 1) this.history.shift();
  }

  /** Handler time percentiles over the last ~10 seconds (`null` when no handler ran). */
  window(): HandlerWindow {
    const oldest = this.history[0];
    const counts = new Float64Array(BUCKETS);
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) {
      counts[i] = this.buckets[i]! - (oldest ? oldest[i]! : 0);
      total += counts[i]!;
    }
    return { p50Ms: quantile(counts, total, 0.5), p99Ms: quantile(counts, total, 0.99) };
  }

  /**
   * Registers the OpenTelemetry instruments (when `@opentelemetry/api` is installed); `read`
   * gives the dispatcher's `stats()` at collection time. Call when the dispatcher starts, after
   * the app registered its SDK.
   */
  start(read: () => DispatcherStats): void {
    const meter = koyoMeter('@koyo/dispatcher');
    if (!meter || this.unobserve) return;
    const slot = { slot: this.slot };
    this.duration = meter.createHistogram('koyo.dispatcher.handler.duration', {
      description:
        'Time the handlers of one change took, from the first handler call to the last one finishing (retries included).',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BOUNDARIES },
    });
    this.commitToHandler = meter.createHistogram('koyo.dispatcher.commit_to_handler', {
      description:
        "Time from a transaction's commit on the server (its commit timestamp) to the dispatcher starting to handle it.",
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BOUNDARIES },
    });
    // Every observable instrument is named koyo.dispatcher.<name>.
    const counter = (name: string, description: string) =>
      meter.createObservableCounter(`koyo.dispatcher.${name}`, { description });
    const gauge = (name: string, description: string, unit?: string) =>
      meter.createObservableGauge(
        `koyo.dispatcher.${name}`,
        unit === undefined ? { description } : { description, unit },
      );
    const changes = counter('changes', 'Changes handled, by table and kind.');
    const errors = counter(
      'handler.errors',
      'Failed handler attempts (each failed attempt counts).',
    );
    const retries = counter('retries', 'Handler retries performed.');
    const deadLetters = counter('dead_letters', 'Items parked with the deadLetter handler.');
    const transactions = counter('transactions', 'Transactions fully handled and acknowledged.');
    const lag = gauge(
      'lag',
      "Bytes of WAL between the server's position (as last received) and the acknowledged position.",
      'By',
    );
    const acknowledged = gauge(
      'acknowledged_lsn',
      'The acknowledged WAL position as a number (everything before it is handled).',
    );
    const pending = gauge('pending', 'Changes received and not yet handled.');
    const backfillRows = counter(
      'backfill.rows',
      'Snapshot rows delivered by backfills, by table.',
    );
    const retainedWal = gauge(
      'slot.retained_wal',
      'Bytes of WAL the server keeps for the slot (as last read, every slotCheckIntervalMs).',
      'By',
    );
    const safeWal = gauge(
      'slot.safe_wal_size',
      'Bytes of WAL that can still be written before the slot is at risk (max_slot_wal_keep_size); not observed when unlimited.',
      'By',
    );
    const observables = [
      changes,
      errors,
      retries,
      deadLetters,
      transactions,
      lag,
      acknowledged,
      pending,
      backfillRows,
      retainedWal,
      safeWal,
    ];
    const callback = (result: BatchObservableResult): void => {
      for (const entry of this.tables.values()) {
        for (const kind in entry.counts) {
          const count = entry.counts[kind as Change['kind']];
          if (count > 0)
            result.observe(changes, count, { slot: this.slot, table: entry.table, kind });
        }
      }
      const stats = read();
      result.observe(errors, stats.handlerErrors, slot);
      result.observe(retries, stats.retries, slot);
      result.observe(deadLetters, stats.deadLettered, slot);
      result.observe(transactions, stats.transactions, slot);
      result.observe(lag, stats.lagBytes, slot);
      result.observe(acknowledged, Number(parseLsn(stats.acknowledgedLsn)), slot);
      result.observe(pending, stats.pending, slot);
      for (const b of stats.backfill)
        result.observe(backfillRows, b.rows, { slot: this.slot, table: b.table });
      if (stats.slot?.retainedWalBytes != null)
        result.observe(retainedWal, stats.slot.retainedWalBytes, slot);
      if (stats.slot?.safeWalSize != null) result.observe(safeWal, stats.slot.safeWalSize, slot);
    };
    meter.addBatchObservableCallback(callback, observables);
    this.unobserve = () => meter.removeBatchObservableCallback(callback, observables);
  }

  /** Unregisters the observable instruments (the dispatcher stopped). */
  stop(): void {
    this.unobserve?.();
    this.unobserve = null;
  }
}

/** The upper bound (ms) of the bucket holding quantile `q`. */
function quantile(counts: Float64Array, total: number, q: number): number | null {
  if (total <= 0) return null;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return FIRST_BOUND_MS * 2 ** i;
  }
  return FIRST_BOUND_MS * 2 ** (counts.length - 1);
}
