import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo backfill [TABLE...]`, which delivers existing rows to the handlers as 'snapshot' changes, then exits. It runs src/run/backfill-command.ts, imported only then (see `main`). */
export const backfillSpec: CommandSpec = {
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
        'Rows per chunk (one short read transaction each). Default: about 2 MiB of rows per chunk (100 to 100000 rows), or what an interrupted backfill started with.',
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
