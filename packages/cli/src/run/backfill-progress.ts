import type { Dispatcher, Logger } from '@koyo/dispatcher';
import { formatCount, progressBar } from '../format.js';
import type { Display } from './display.js';

/** Seconds as `1h02m`, `3m05s` or `12s`. */
function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * Shows `stats().backfill` once a second: a bar per running table on a terminal (rows, %,
 * rows/s, ETA from the `reltuples` estimate), or a log line every few seconds otherwise.
 */
export class BackfillProgress {
  #timer: NodeJS.Timeout | undefined;
  #lastLine = 0;
  readonly #reported = new Set<string>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
    private readonly display: Display,
    private readonly mode: 'bar' | 'lines' | 'off',
  ) {}

  start(): void {
    if (this.mode === 'off' || this.#timer) return;
    this.#timer = setInterval(() => this.tick(), 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.mode === 'bar') this.display.bar(undefined);
  }

  /** Renders the current state (also called once at the end). */
  tick(): void {
    const tables = this.dispatcher.stats().backfill;
    for (const t of tables) {
      if (t.state === 'running' || this.#reported.has(t.table)) continue;
      this.#reported.add(t.table);
      if (this.mode === 'bar') this.display.bar(undefined);
      this.logger.info(
        { table: t.table, rows: t.rows, rate: `${formatCount(t.rowsPerSecond)}/s`, state: t.state },
        'backfill of table finished',
      );
    }
    const running = tables.find((t) => t.state === 'running');
    if (!running) return;
    const total =
      running.estimatedTotal !== null && running.estimatedTotal > 0
        ? Math.max(running.estimatedTotal, running.rows)
        : null;
    const ratio = total === null ? null : running.rows / total;
    const eta =
      total === null || running.rowsPerSecond === 0
        ? '?'
        : formatEta((total - running.rows) / running.rowsPerSecond);
    const percent = ratio === null ? '?%' : `${Math.floor(ratio * 100)}%`;
    const text = `${formatCount(running.rows)}${total === null ? '' : `/${formatCount(total)}`} rows, ${formatCount(running.rowsPerSecond)}/s, ETA ${eta}`;
    if (this.mode === 'bar') {
      this.display.bar(`backfill ${running.table} ${progressBar(ratio ?? 0)} ${percent} ${text}`);
    } else if (Date.now() - this.#lastLine >= 2000) {
      this.#lastLine = Date.now();
      this.logger.info(
        {
          table: running.table,
          progress: percent,
          rows: running.rows,
          estimated: total ?? 'unknown',
          rate: `${running.rowsPerSecond}/s`,
          eta,
        },
        'backfilling',
      );
    }
  }
}
