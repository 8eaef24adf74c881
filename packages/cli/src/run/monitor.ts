import type { Dispatcher, Logger } from '@koyo/dispatcher';
import { parseLsn } from '@koyo/pgoutput';
import type pg from 'pg';
import type { ProgressMode } from '../config.js';
import { formatError } from '../errors.js';
import { formatBytes, formatCount, progressBar } from '../format.js';
import { plainClient } from '../pg-client.js';
import type { Display } from './display.js';

/**
 * Watches the slot's lag against the server's WAL position: the catch-up progress (a bar or
 * lines), then a stats line every `statsIntervalMs`.
 */
export class Monitor {
  readonly #client: pg.Client;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #target: bigint | undefined;
  #initialLag = 0;
  #caughtUp = false;
  #lastLines = 0;
  #lastStats = Date.now();
  #connected = false;
  /** `changes` at the last tick that found nothing waiting, or undefined. */
  #drainedAt: number | undefined;

  constructor(
    connection: string | pg.ClientConfig,
    private readonly slot: string,
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
    private readonly display: Display,
    private readonly mode: Exclude<ProgressMode, 'auto'>,
    private readonly statsIntervalMs: number,
  ) {
    this.#client = plainClient(connection);
  }

  start(): void {
    this.#timer = setInterval(() => void this.#tick(), 1000);
    this.#timer.unref();
    void this.#tick();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.display.bar(undefined);
    await this.#client.end().catch(() => undefined);
  }

  async #serverLag(): Promise<{ wal: bigint; lag: number; sent: bigint | null } | undefined> {
    if (!this.#connected) {
      await this.#client.connect();
      this.#connected = true;
    }
    // sent: how far the slot's WAL sender has decoded. On an idle slot the WAL moves on (other
    // tables, other databases) with nothing to send, so the acknowledged position alone lags.
    const { rows } = await this.#client.query<{
      wal: string;
      confirmed: string | null;
      sent: string | null;
    }>(
      `SELECT pg_current_wal_lsn()::text AS wal, s.confirmed_flush_lsn::text AS confirmed, r.sent_lsn::text AS sent
         FROM (SELECT 1) one
         LEFT JOIN pg_replication_slots s ON s.slot_name = $1
         LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid`,
      [this.slot],
    );
    const row = rows[0];
    if (!row) return undefined;
    const wal = parseLsn(row.wal);
    let done = row.confirmed === null ? 0n : parseLsn(row.confirmed);
    const acknowledged = parseLsn(this.dispatcher.stats().acknowledgedLsn);
    if (acknowledged > done) done = acknowledged;
    return {
      wal,
      lag: wal > done ? Number(wal - done) : 0,
      sent: row.sent === null ? null : parseLsn(row.sent),
    };
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const stats = this.dispatcher.stats();
      if (stats.state !== 'running') return;
      if (!this.#caughtUp) {
        const position = await this.#serverLag().catch((error: unknown) => {
          this.logger.debug({ error: formatError(error) }, 'lag query failed');
          return undefined;
        });
        if (!position) return;
        if (this.#target === undefined) {
          this.#target = position.wal;
          this.#initialLag = position.lag;
          if (position.lag > 0)
            this.logger.info(
              { lag: formatBytes(position.lag), lagBytes: position.lag },
              'catching up',
            );
          this.#lastLines = Date.now();
        }
        const acknowledged = parseLsn(this.dispatcher.stats().acknowledgedLsn);
        // Caught up: everything up to the start position is acknowledged, or the server has
        // decoded past it and nothing it sent waited for a handler on two ticks in a row (what
        // was on the wire at the first tick has arrived by the second).
        const idle =
          position.sent !== null &&
          position.sent >= this.#target &&
          stats.pending === 0 &&
          stats.inFlight === 0;
        const drained = idle && this.#drainedAt === stats.changes;
        this.#drainedAt = idle ? stats.changes : undefined;
        if (position.lag === 0 || acknowledged >= this.#target || drained) {
          this.#caughtUp = true;
          this.display.bar(undefined);
          this.logger.info(
            {
              lag: formatBytes(position.lag),
              lagBytes: position.lag,
              changes: stats.changes,
              transactions: stats.transactions,
            },
            'caught up',
          );
          return;
        }
        const done =
          this.#initialLag > 0
            ? 1 - Math.min(position.lag, this.#initialLag) / this.#initialLag
            : 1;
        const text = `${Math.floor(done * 100)}% lag ${formatBytes(position.lag)}, ${formatCount(stats.changes)} changes, ${formatCount(stats.changesPerSecond)}/s`;
        if (this.mode === 'bar') this.display.bar(`catching up ${progressBar(done)} ${text}`);
        else if (this.mode === 'lines' && Date.now() - this.#lastLines >= 2000) {
          this.#lastLines = Date.now();
          this.logger.info(
            {
              lag: formatBytes(position.lag),
              lagBytes: position.lag,
              progress: `${Math.floor(done * 100)}%`,
              changes: stats.changes,
              rate: `${stats.changesPerSecond}/s`,
            },
            'catching up',
          );
        }
        return;
      }
      if (this.statsIntervalMs > 0 && Date.now() - this.#lastStats >= this.statsIntervalMs) {
        this.#lastStats = Date.now();
        const position = await this.#serverLag().catch(() => undefined);
        this.logger.info(
          {
            changes: stats.changes,
            rate: `${stats.changesPerSecond}/s`,
            transactions: stats.transactions,
            lag: position ? formatBytes(position.lag) : 'unknown',
            acknowledged: stats.acknowledgedLsn,
            inFlight: stats.inFlight,
            pending: stats.pending,
            handlerErrors: stats.handlerErrors,
            retries: stats.retries,
            deadLettered: stats.deadLettered,
          },
          'stats',
        );
      }
    } finally {
      this.#ticking = false;
    }
  }
}
