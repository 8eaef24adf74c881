import type { Logger } from '@koyo/dispatcher';
import { type CommandSpec, numberValue, type ParsedArgs } from '../args.js';
import type { CliIo } from '../context.js';
import { EXIT, formatError } from '../errors.js';
import { BackfillProgress } from './backfill-progress.js';
import { openConfiguredDispatcher, runHandlersCleanup } from './configured-dispatcher.js';
import { Monitor } from './monitor.js';

/**
 * `koyo run`: loads the config and handlers, streams changes to them, and on SIGINT/SIGTERM stops
 * gracefully (running handlers finish, their work is acknowledged) and exits 0.
 */
export async function run(spec: CommandSpec, args: ParsedArgs, io: CliIo): Promise<number> {
  const opened = await openConfiguredDispatcher(spec, args, io);
  const { conn, slot, publication, mode, display, logger, dispatcher } = opened;
  const statsSeconds = numberValue(spec, args, 'stats-interval', {
    min: 0,
    max: 86_400,
    fallback: opened.ctx.config.run?.statsIntervalSeconds ?? 30,
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
    {
      config: opened.loaded.file,
      handlers: opened.handlers.file,
      connection: conn.display,
      slot,
      publication,
    },
    'koyo run',
  );
  const backfill = new BackfillProgress(
    dispatcher,
    logger,
    display,
    mode === 'bar' ? 'lines' : mode,
  );
  // Imported when used: OpenTelemetry is the slowest dependency to load.
  const { startObservability } = await import('../run/observe.js');
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
    await runHandlersCleanup(opened.cleanup, logger);
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
