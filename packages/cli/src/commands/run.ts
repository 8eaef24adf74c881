import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo run`, which streams changes to the handlers of koyo.handlers.ts until SIGINT or SIGTERM. It runs src/run/run-command.ts, imported only then (see `main`). */
export const runSpec: CommandSpec = {
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
