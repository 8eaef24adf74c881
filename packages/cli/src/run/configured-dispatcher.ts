import { createDispatcher, createKoyoLogger, type Dispatcher, type Logger } from '@koyo/dispatcher';
import { stringValue, type CommandSpec, type ParsedArgs } from '../args.js';
import type { KoyoConfig, ProgressMode } from '../config.js';
import {
  commandContext,
  requirePublication,
  requireSlot,
  resolveConnection,
  type CliIo,
  type CommandContext,
  type ResolvedConnection,
} from '../context.js';
import { formatError } from '../errors.js';
import type { HandlersCleanup } from '../handlers.js';
import { loadHandlers, type LoadedConfig } from '../load.js';
import { Display } from './display.js';

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

/** Runs the cleanup function the handlers file returned, if any; its failure is logged, not thrown. */
export async function runHandlersCleanup(
  cleanup: HandlersCleanup | void,
  logger: Logger,
): Promise<void> {
  if (typeof cleanup !== 'function') return;
  try {
    await cleanup();
  } catch (error) {
    logger.error({ error: formatError(error) }, 'the cleanup function of the handlers failed');
  }
}
