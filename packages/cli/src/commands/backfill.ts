import { type CommandSpec, numberValue, type ParsedArgs } from '../args.js';
import type { Command } from '../command.js';
import type { CliIo } from '../context.js';
import { EXIT, formatError } from '../errors.js';
import * as flags from '../flags.js';
import { BackfillProgress } from '../run/backfill-progress.js';
import { openConfiguredDispatcher, runHandlersCleanup } from '../run/configured-dispatcher.js';

const spec: CommandSpec = {
  name: 'backfill',
  summary: "Deliver existing rows to the handlers as 'snapshot' changes, then exit",
  description:
    "Loads koyo.config.ts and its handlers like koyo run, starts the dispatcher and backfills the tables (default: every dispatched table): their current rows reach your handlers as 'snapshot' changes, in chunks by primary key, consistent with the changes streamed meanwhile (which are handled too). Shows a progress bar per table on a terminal (rows, %, rows/s, ETA), plain lines otherwise, and exits 0 when every table is done. Progress is kept in the table koyo.backfill_progress: after SIGINT, SIGTERM or a crash, run it again (or koyo run) and it resumes after the last acknowledged chunk.",
  positionals: [
    {
      name: 'TABLE...',
      required: false,
      variadic: true,
      description:
        "Tables to backfill ('users' or 'schema.table'). Default: every dispatched table.",
    },
  ],
  options: {
    ...flags.slotFlags,
    'chunk-size': {
      type: 'string',
      value: 'N',
      description:
        'Rows per chunk (one short read transaction each). Default 10000, or the size an interrupted backfill started with.',
    },
    progress: flags.progressFlag('Progress display. auto: a bar on a terminal, lines otherwise.'),
    help: flags.help,
  },
  examples: [
    'koyo backfill',
    'koyo backfill users orders --chunk-size 5000',
    'koyo backfill --progress lines',
  ],
};

/**
 * `koyo backfill [table...]`: starts the configured dispatcher, backfills the tables through
 * its handlers with a progress display, stops it and exits 0. SIGINT/SIGTERM stop it
 * gracefully (exit 130); the next `koyo backfill` or `koyo run` resumes after the last
 * acknowledged chunk.
 */
async function run(args: ParsedArgs, io: CliIo): Promise<number> {
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

/** `koyo backfill [TABLE...]`: delivers existing rows to the handlers as 'snapshot' changes, then exits. */
export const backfillCommand: Command = { spec, run };
