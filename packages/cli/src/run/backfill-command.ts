import { type CommandSpec, numberValue, type ParsedArgs } from '../args.js';
import type { CliIo } from '../context.js';
import { EXIT, formatError } from '../errors.js';
import { BackfillProgress } from './backfill-progress.js';
import { openConfiguredDispatcher, runHandlersCleanup } from './configured-dispatcher.js';

/**
 * `koyo backfill [table...]`: starts the configured dispatcher, backfills the tables through
 * its handlers with a progress display, stops it and exits 0. SIGINT/SIGTERM stop it
 * gracefully (exit 130); the next `koyo backfill` or `koyo run` resumes after the last
 * acknowledged chunk.
 */
export async function run(spec: CommandSpec, args: ParsedArgs, io: CliIo): Promise<number> {
  const chunkText = args.values['chunk-size'];
  const chunkSize =
    chunkText === undefined
      ? undefined
      : numberValue(spec, args, 'chunk-size', {
          min: 1,
          max: 10_000_000,
          integer: true,
          fallback: 0,
        });
  const { slot, publication, conn, mode, display, logger, dispatcher, cleanup, loaded, handlers } =
    await openConfiguredDispatcher(spec, args, io);
  const progress = new BackfillProgress(dispatcher, logger, display, mode);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    logger.info(
      { signal },
      'stopping: the backfill resumes after its last acknowledged chunk on the next run',
    );
    void dispatcher.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  logger.info(
    {
      config: loaded.file,
      handlers: handlers.file,
      connection: conn.display,
      slot,
      publication,
      tables: args.positionals.join(',') || 'all dispatched',
    },
    'koyo backfill',
  );
  try {
    await dispatcher.start();
    progress.start();
    const tables = args.positionals.length > 0 ? args.positionals : undefined;
    const result = await dispatcher.backfill(tables, chunkSize === undefined ? {} : { chunkSize });
    progress.tick();
    progress.stop();
    for (const t of result.tables)
      io.stdout.write(
        `${t.table}: ${t.rows} rows in ${t.chunks} chunks, ${(t.ms / 1000).toFixed(1)} s\n`,
      );
    await dispatcher.stop();
    return EXIT.OK;
  } catch (error) {
    progress.stop();
    await dispatcher.stop().catch(() => undefined);
    if (interrupted) return 130;
    logger.error(
      { error: formatError(error) },
      'backfill failed; run koyo backfill again to resume it',
    );
    return EXIT.FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await runHandlersCleanup(cleanup, logger);
  }
}
