import { createDispatcher, createKoyoLogger, type Dispatcher, type Logger } from '@koyo/dispatcher';
import { parseLsn } from '@koyo/pgoutput';
import pg from 'pg';
import { numberValue, stringValue, type CommandSpec, type ParsedArgs } from '../args.js';
import type { KoyoConfig, ProgressMode } from '../config.js';
import {
  commandContext,
  plainClientConfig,
  requirePublication,
  requireSlot,
  resolveConnection,
  type CliIo,
  type CommandContext,
  type Output,
  type ResolvedConnection,
} from '../context.js';
import { EXIT, formatError } from '../errors.js';
import { formatBytes, formatCount, progressBar } from '../format.js';
import type { HandlersCleanup } from '../handlers.js';
import { loadHandlers, type LoadedConfig } from '../load.js';
import { BackfillProgress } from './backfill-progress.js';
import { startObservability } from './observe.js';
import { runSpec } from '../specs.js';

/** Writes log lines and, on a terminal, keeps a progress bar as the last line. */
export class Display {
  #bar: string | undefined;
  constructor(private readonly out: Output) {}

  log(line: string): void {
    if (this.#bar !== undefined) this.out.write('\r\x1b[2K');
    this.out.write(line.endsWith('\n') ? line : `${line}\n`);
    if (this.#bar !== undefined) this.out.write(this.#bar);
  }

  bar(text: string | undefined): void {
    if (text === undefined) {
      if (this.#bar !== undefined) this.out.write('\r\x1b[2K');
    } else {
      this.out.write(`\r\x1b[2K${text}`);
    }
    this.#bar = text;
  }
}

/**
 * Watches the slot's lag against the server's WAL position: the catch-up progress (a bar or
 * lines), then a stats line every `statsIntervalMs`.
 */
class Monitor {
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
    this.#client = new pg.Client(plainClientConfig(connection));
    this.#client.on('error', () => undefined);
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

/** What `koyo run` and `koyo backfill` share: config, handlers, display, logger, dispatcher. */
export interface ConfiguredDispatcher {
  ctx: CommandContext;
  conn: ResolvedConnection;
  slot: string;
  publication: string;
  mode: Exclude<ProgressMode, 'auto'>;
  display: Display;
  logger: Logger;
  dispatcher: Dispatcher;
  cleanup: HandlersCleanup | void;
  loaded: LoadedConfig;
  handlers: Awaited<ReturnType<typeof loadHandlers>>;
}

/** Loads the config and handlers and creates (does not start) the dispatcher they describe. */
export async function openConfiguredDispatcher(
  spec: CommandSpec,
  args: ParsedArgs,
  io: CliIo,
): Promise<ConfiguredDispatcher> {
  const ctx = await commandContext(spec, args, io, { requireConfig: true });
  const loaded = ctx.loaded!;
  const conn = resolveConnection(ctx);
  const slot = requireSlot(ctx);
  const publication = requirePublication(ctx);
  const requested =
    (stringValue(args, 'progress') as ProgressMode | undefined) ??
    ctx.config.run?.progress ??
    'auto';
  const mode = requested === 'auto' ? (io.stderr.isTTY ? 'bar' : 'lines') : requested;
  const handlers = await loadHandlers(loaded, io.cwd);

  const display = new Display(io.stderr);
  // A logger from the config (pino, ...) wins; `logger: false` silences the dispatcher only.
  const own = createKoyoLogger({ write: (line) => display.log(line) });
  const configured = ctx.config.dispatcher?.logger;
  const logger: Logger = configured === undefined || configured === false ? own : configured;
  const config: KoyoConfig = { ...ctx.config, connection: conn.connection, slot, publication };
  const tables = ctx.config.tables;
  const dispatcher = createDispatcher({
    ...(ctx.config.dispatcher ?? {}),
    connection: conn.connection,
    slot,
    publication,
    ...(tables === '*' || (tables !== undefined && tables.length > 0) ? { tables } : {}),
    ...(args.values.failover === true ? { failover: true } : {}),
    logger: configured === false ? false : logger,
  });
  const cleanup: HandlersCleanup | void = await handlers.setup(dispatcher, { config, logger });
  return {
    ctx,
    conn,
    slot,
    publication,
    mode,
    display,
    logger,
    dispatcher,
    cleanup,
    loaded,
    handlers,
  };
}

/**
 * `koyo run`: loads the config and handlers, streams changes to them, and on SIGINT/SIGTERM stops
 * gracefully (running handlers finish, their work is acknowledged) and exits 0.
 */
export async function runCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  const {
    ctx,
    conn,
    slot,
    publication,
    mode,
    display,
    logger,
    dispatcher,
    cleanup,
    loaded,
    handlers,
  } = await openConfiguredDispatcher(runSpec, args, io);
  const statsSeconds = numberValue(runSpec, args, 'stats-interval', {
    min: 0,
    max: 86_400,
    fallback: ctx.config.run?.statsIntervalSeconds ?? 30,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      display.log(
        `source=koyo level=warn message="second ${signal}: exiting now; unacknowledged changes are delivered again on the next run"`,
      );
      process.exit(130);
    }
    logger.info({ signal }, 'stopping: letting running handlers finish');
    void dispatcher.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const monitor = new Monitor(
    conn.connection,
    slot,
    dispatcher,
    logger,
    display,
    mode,
    statsSeconds * 1000,
  );
  logger.info(
    { config: loaded.file, handlers: handlers.file, connection: conn.display, slot, publication },
    'koyo run',
  );
  const backfill = new BackfillProgress(
    dispatcher,
    logger,
    display,
    mode === 'bar' ? 'lines' : mode,
  );
  const observability = await startObservability(
    args,
    dispatcher,
    { title: `slot ${slot} / publication ${publication}`, connection: conn.display },
    logger,
  );
  try {
    await dispatcher.start();
    if (mode !== 'off' || statsSeconds > 0) monitor.start();
    if (args.values.backfill === true) {
      // Streaming goes on meanwhile; the catch-up display keeps the bar, the backfill logs lines.
      backfill.start();
      dispatcher
        .backfill()
        .then(
          (result) =>
            logger.info(
              { tables: result.tables.map((t) => `${t.table}:${t.rows}`).join(',') },
              'backfill done',
            ),
          (error: unknown) =>
            logger.error(
              { error: formatError(error) },
              'backfill failed; the dispatcher keeps streaming, run koyo backfill to resume it',
            ),
        )
        .finally(() => backfill.stop());
    }
    await dispatcher.closed.catch((error: unknown) => {
      logStack(logger, error);
      throw error;
    });
    const stats = dispatcher.stats();
    logger.info(
      {
        changes: stats.changes,
        transactions: stats.transactions,
        acknowledged: stats.acknowledgedLsn,
      },
      'stopped',
    );
    return EXIT.OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    backfill.stop();
    await monitor.stop();
    await observability.close();
    if (typeof cleanup === 'function') {
      try {
        await cleanup();
      } catch (error) {
        logger.error({ error: formatError(error) }, 'the cleanup function of the handlers failed');
      }
    }
  }
}

/**
 * At debug level (`KOYO_LOG_LEVEL=debug`), the stack of what stopped the dispatcher (for a failing
 * handler: the handler's own error), one log line per frame, before the one-line error `koyo run`
 * ends with.
 */
function logStack(logger: Logger, error: unknown): void {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  const stack = cause instanceof Error ? cause.stack : undefined;
  if (stack === undefined) return;
  for (const line of stack.split('\n'))
    logger.debug({ stack: line.trim() }, 'stack of the error that stopped koyo run');
}
