import type { Logger } from '@koyo/dispatcher';
import { type CommandSpec, numberValue, type ParsedArgs } from '../args.js';
import type { Command } from '../command.js';
import type { CliIo } from '../context.js';
import { EXIT, formatError } from '../errors.js';
import * as flags from '../flags.js';
import { BackfillProgress } from '../run/backfill-progress.js';
import { openConfiguredDispatcher, runHandlersCleanup } from '../run/configured-dispatcher.js';
import { Monitor } from '../run/monitor.js';

const spec: CommandSpec = {
  name: 'run',
  summary: 'Stream changes to the handlers in koyo.handlers.ts',
  description:
    'Loads koyo.config.ts and its handlers file (TypeScript, no build step), starts the dispatcher and calls your handlers for every committed change. Shows catch-up progress (the slot lag falling to zero; a progress bar on a terminal, plain lines otherwise) and stats lines. SIGINT or SIGTERM stops gracefully: running handlers finish, what they finished is acknowledged, and koyo exits 0. A second signal exits at once (nothing unacknowledged is lost: it is delivered again on the next run).',
  positionals: [],
  options: {
    ...flags.slotFlags,
    'stats-interval': flags.statsInterval,
    progress: flags.progressFlag('Catch-up display. auto: a bar on a terminal, lines otherwise.'),
    failover: {
      type: 'boolean',
      description:
        'Create the slot as a failover slot (PostgreSQL 17+), synchronised to standbys so that after a promotion koyo run, given every host in the URL (postgres://h1,h2/db), resumes on the new primary. Same as dispatcher.failover in the config. Before 17: an UNSUPPORTED error.',
    },
    backfill: {
      type: 'boolean',
      description:
        "Backfill every dispatched table first (existing rows reach the handlers as 'snapshot' changes, consistently with the stream, which keeps flowing meanwhile); an interrupted backfill resumes on the next run.",
    },
    metrics: {
      type: 'string',
      value: '[HOST:]PORT',
      description:
        'Serve the OpenTelemetry metrics in Prometheus text format at http://HOST:PORT/metrics (host default 127.0.0.1).',
    },
    ui: {
      type: 'string',
      value: '[HOST:]PORT',
      description:
        'Serve the live status page at http://HOST:PORT/ (lag, changes/s per table, handler p50/p99, errors; host default 127.0.0.1).',
    },
    'allow-remote': {
      type: 'boolean',
      description:
        'Let --metrics and --ui listen on a non-loopback address (they have no authentication; a warning is printed).',
    },
    help: flags.help,
  },
  examples: [
    'koyo run',
    'koyo run --backfill',
    'koyo run --ui 9465 --metrics 9464',
    "koyo run --failover --url 'postgres://app@db1,db2/shop'",
    'DATABASE_URL=postgres://app@db/shop koyo run --stats-interval 10',
    'koyo run --config deploy/koyo.config.ts',
  ],
};

/**
 * `koyo run`: loads the config and handlers, streams changes to them, and on SIGINT/SIGTERM stops
 * gracefully (running handlers finish, their work is acknowledged) and exits 0.
 */
async function run(args: ParsedArgs, io: CliIo): Promise<number> {
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

/** `koyo run`: streams changes to the handlers of koyo.handlers.ts until SIGINT or SIGTERM. */
export const runCommand: Command = { spec, run };
