import { createKoyoLogger, type Logger } from '@koyo/dispatcher';
import { numberValue } from '../args.js';
import type { CommandRun } from '../command.js';
import { commandContext, requirePublication, requireSlot, resolveConnection } from '../context.js';
import { EXIT, KoyoCliError, formatError } from '../errors.js';
import { formatCount } from '../format.js';
import { display as displayPath } from '../load.js';
import { resolveNatsSettings } from '../nats-settings.js';
import { importNats, type NatsModule } from '../optional.js';
import { Display } from '../run/display.js';

type Relay = ReturnType<NatsModule['createNatsRelay']>;

/** A @koyo/nats error as the CLI reports it: code `NATS`, the @koyo/nats code in the message. */
function natsError(nats: NatsModule, error: unknown): unknown {
  if (!(error instanceof nats.KoyoNatsError)) return error;
  return new KoyoCliError('NATS', `${error.message} [${error.code}]`, {
    cause: error.cause ?? error,
  });
}

/** Logs NATS going away and coming back, and a stats line every `intervalMs` (0: none). */
function watch(relay: Relay, logger: Logger, intervalMs: number): () => void {
  let waiting = false;
  let last = Date.now();
  let lastPublished = 0;
  const timer = setInterval(() => {
    const stats = relay.stats();
    if (stats.waitingForNats !== waiting) {
      waiting = stats.waitingForNats;
      if (waiting)
        logger.warn(
          { publishErrors: stats.publishErrors },
          'NATS unreachable: publishing waits and the slot does not advance',
        );
      else logger.info({ published: stats.published }, 'NATS is back: publishing again');
    }
    if (intervalMs > 0 && Date.now() - last >= intervalMs) {
      const seconds = (Date.now() - last) / 1000;
      last = Date.now();
      logger.info(
        {
          published: stats.published,
          rate: `${formatCount(Math.round((stats.published - lastPublished) / seconds))}/s`,
          duplicates: stats.duplicates,
          alreadyStored: stats.alreadyStored,
          publishErrors: stats.publishErrors,
          waitingForNats: stats.waitingForNats,
          lastPublished: stats.lastPublished ?? 'none',
          acknowledged: stats.dispatcher.acknowledgedLsn,
          lag: stats.dispatcher.lagBytes,
        },
        'stats',
      );
      lastPublished = stats.published;
    }
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * `koyo relay nats`: reads the config's slot and publishes every change into NATS JetStream with
 * @koyo/nats's relay; SIGINT/SIGTERM (or `signal`) stops it gracefully with a summary, exit 0.
 */
export const run: CommandRun = async (spec, args, io, signal) => {
  const ctx = await commandContext(spec, args, io, { requireConfig: true });
  const conn = resolveConnection(ctx);
  const slot = requireSlot(ctx);
  const publication = requirePublication(ctx);
  const statsSeconds = numberValue(spec, args, 'stats-interval', {
    min: 0,
    max: 86_400,
    fallback: ctx.config.run?.statsIntervalSeconds ?? 30,
  });
  const nats = await importNats(spec.name, io.cwd);
  const settings = resolveNatsSettings(ctx, nats, { servers: 'servers', stream: 'stream' });
  const partitions = numberValue(spec, args, 'partitions', {
    min: 1,
    max: 10_000,
    integer: true,
    fallback: settings.partitions ?? 1,
  });

  const display = new Display(io.stderr);
  const own = createKoyoLogger({ write: (line) => display.log(line) });
  const configured = ctx.config.dispatcher?.logger;
  const logger: Logger = configured === undefined || configured === false ? own : configured;
  // retry, onError and deadLetter are for handlers (koyo run); the relay retries publishing itself.
  const {
    retry: _retry,
    onError: _onError,
    deadLetter: _deadLetter,
    ...dispatcherSettings
  } = ctx.config.dispatcher ?? {};
  const tables = ctx.config.tables;
  let relay: Relay;
  try {
    relay = nats.createNatsRelay({
      dispatcher: {
        ...dispatcherSettings,
        connection: conn.connection,
        slot,
        publication,
        ...(tables === '*' || (tables !== undefined && tables.length > 0) ? { tables } : {}),
        logger: configured === false ? false : logger,
      },
      nats: {
        servers: settings.servers,
        ...(settings.name === undefined ? {} : { name: settings.name }),
      },
      stream: settings.stream,
      subjectPrefix: settings.subjectPrefix,
      partitions,
      ...(settings.duplicateWindowMs === undefined
        ? {}
        : { duplicateWindowMs: settings.duplicateWindowMs }),
      ...(settings.maxBackoffMs === undefined ? {} : { maxBackoffMs: settings.maxBackoffMs }),
    });
  } catch (error) {
    if (error instanceof nats.KoyoNatsError) {
      throw new KoyoCliError(
        'CONFIG_INVALID',
        `${displayPath(ctx.loaded!.file, io.cwd)}: relay.nats: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }

  let signals = 0;
  const stop = (reason: string): void => {
    signals++;
    if (signals > 1) {
      display.log(
        `source=koyo level=warn message="second ${reason}: exiting now; unacknowledged changes are published again on the next start (the stream keeps them once)"`,
      );
      process.exit(130);
    }
    logger.info({ signal: reason }, 'stopping: letting running publishes finish');
    void relay.stop();
  };
  const onSignal = (name: NodeJS.Signals): void => stop(name);
  const onAbort = (): void => stop('abort');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  signal.addEventListener('abort', onAbort, { once: true });
  logger.info(
    {
      config: ctx.loaded!.file,
      connection: conn.display,
      slot,
      publication,
      nats: settings.servers.join(','),
      stream: settings.stream,
      subjectPrefix: settings.subjectPrefix,
      partitions,
    },
    'koyo relay nats',
  );
  const unwatch = watch(relay, logger, statsSeconds * 1000);
  try {
    try {
      await relay.start();
    } catch (error) {
      throw natsError(nats, error);
    }
    logger.info(
      { stream: settings.stream, subjects: `${settings.subjectPrefix}.>` },
      'relaying into JetStream',
    );
    if (signal.aborted) stop('abort');
    await relay.closed.catch((error: unknown) => {
      throw natsError(nats, error);
    });
    const stats = relay.stats();
    logger.info(
      {
        published: stats.published,
        duplicates: stats.duplicates,
        alreadyStored: stats.alreadyStored,
        publishErrors: stats.publishErrors,
        lastPublished: stats.lastPublished ?? 'none',
        changes: stats.dispatcher.changes,
        transactions: stats.dispatcher.transactions,
        acknowledged: stats.dispatcher.acknowledgedLsn,
      },
      'stopped',
    );
    return EXIT.OK;
  } catch (error) {
    logger.debug({ error: formatError(error) }, 'the relay stopped on an error');
    throw error;
  } finally {
    unwatch();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    signal.removeEventListener('abort', onAbort);
  }
};
