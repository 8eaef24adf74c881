import { randomBytes } from 'node:crypto';

/**
 * A pino-compatible logger: `logger.info({ slot: 'x' }, 'message')`. pino, bunyan-style
 * loggers and {@link createKoyoLogger} all fit.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Levels of {@link createKoyoLogger}, from most to least verbose. */
export type KoyoLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Options of {@link createKoyoLogger}. */
export interface KoyoLoggerOptions {
  /** Lowest level written. Default: `KOYO_LOG_LEVEL` from the environment, else `'info'`. */
  level?: KoyoLogLevel;
  /** Where lines go. Default: `process.stderr`. */
  write?: (line: string) => void;
  /** The `source=` field. Default `'koyo'`. */
  source?: string;
}

const RANK: Record<KoyoLogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 100,
};

function isLevel(value: unknown): value is KoyoLogLevel {
  return typeof value === 'string' && value in RANK;
}

/** Formats one value of a `key=value` pair: bare when simple, JSON-quoted otherwise. */
function formatValue(value: unknown): string {
  if (value instanceof Error) return formatValue(value.message);
  if (typeof value === 'bigint') return value.toString();
  const text =
    typeof value === 'string'
      ? value
      : value === undefined
        ? 'undefined'
        : (JSON.stringify(value) ?? String(value));
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/**
 * The default logger: one line per event in the style of the Ruby gem koyo-postgres-replication,
 * `source=koyo logid=f3a8f68d3e level=info message="dispatcher started" slot=orders` (`logid`: a random
 * id per line, as in the gem).
 *
 * @example
 * const logger = createKoyoLogger({ level: 'debug' });
 * createDispatcher({ connection, slot: 'app', publication: 'app', logger });
 */
export function createKoyoLogger(options: KoyoLoggerOptions = {}): Logger {
  const envLevel = process.env.KOYO_LOG_LEVEL;
  const level = options.level ?? (isLevel(envLevel) ? envLevel : 'info');
  const min = RANK[level];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const source = options.source ?? 'koyo';
  const log = (lvl: Exclude<KoyoLogLevel, 'silent'>, obj: object, msg?: string): void => {
    if (RANK[lvl] < min) return;
    let line = `source=${formatValue(source)} logid=${randomBytes(5).toString('hex')} level=${lvl} message=${formatValue(msg ?? '')}`;
    for (const [key, value] of Object.entries(obj)) {
      if (value === undefined) continue;
      line += ` ${key}=${formatValue(value)}`;
    }
    write(`${line}\n`);
  };
  return {
    debug: (obj, msg) => log('debug', obj, msg),
    info: (obj, msg) => log('info', obj, msg),
    warn: (obj, msg) => log('warn', obj, msg),
    error: (obj, msg) => log('error', obj, msg),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
