/** Every `code` a {@link KoyoCliError} can carry. */
export type KoyoCliErrorCode =
  /** Unknown command or flag, missing or bad value: the usage is printed and the exit code is 2. */
  | 'USAGE'
  /** No config file was found where one is needed (`koyo run`), or `--config` names a missing file. */
  | 'CONFIG_NOT_FOUND'
  /** The config file could not be loaded, or its content is not a valid koyo config. */
  | 'CONFIG_INVALID'
  /** The handlers file could not be loaded, or does not export a handlers setup function. */
  | 'HANDLERS_INVALID'
  /** No connection: no `--url`, no `connection` in the config file, no `DATABASE_URL`. */
  | 'NO_CONNECTION'
  /** A file `koyo init` would write exists already (use `--force`). */
  | 'FILE_EXISTS'
  /** A command needs a value (slot, publication) that neither a flag nor the config gives. */
  | 'MISSING_VALUE'
  /** A publication or slot named on the command line does not exist or cannot be used. */
  | 'NOT_FOUND'
  /** PostgreSQL reported an error (the SQLSTATE is kept) or could not be reached. */
  | 'DATABASE'
  /** A command needs an optional package that is not installed (`koyo relay nats` needs `@koyo/nats`). */
  | 'MISSING_PACKAGE'
  /** NATS could not be reached, has no JetStream, or its stream does not fit the relay (the `@koyo/nats` code is in the message). */
  | 'NATS';

/** Exit codes of the `koyo` command. */
export const EXIT = {
  /** Success, including a graceful stop of `koyo run` on SIGINT/SIGTERM. */
  OK: 0,
  /** A failure: a failed doctor check, a database error, a handler that gave up. */
  FAILURE: 1,
  /** Bad usage: unknown command or flag, missing or malformed value. */
  USAGE: 2,
} as const;

/** Options of {@link KoyoCliError}. */
export interface KoyoCliErrorOptions {
  cause?: unknown;
  /** SQLSTATE of the PostgreSQL error behind this one. */
  sqlState?: string | undefined;
  /** For `USAGE` errors: the command whose usage should be printed. */
  command?: string | undefined;
}

/**
 * The one error class of `@koyo/cli`. `code` says what went wrong, the message says what to do.
 * The `koyo` command prints it as a single line (never a stack trace) and exits with
 * {@link KoyoCliError.exitCode}: 2 for `USAGE`, 1 for everything else.
 *
 * @example
 * try {
 *   await loadConfig({ cwd: process.cwd() });
 * } catch (error) {
 *   if (error instanceof KoyoCliError && error.code === 'CONFIG_INVALID') console.error(error.message);
 * }
 */
export class KoyoCliError extends Error {
  override readonly name = 'KoyoCliError';
  readonly code: KoyoCliErrorCode;
  /** SQLSTATE of the PostgreSQL error behind this one, if any. */
  readonly sqlState: string | undefined;
  /** For `USAGE` errors: the command whose usage goes with the message. */
  readonly command: string | undefined;

  constructor(code: KoyoCliErrorCode, message: string, options: KoyoCliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.sqlState = options.sqlState ?? findSqlState(options.cause);
    this.command = options.command;
  }

  /** The process exit code for this error: 2 for usage errors, 1 otherwise. */
  get exitCode(): number {
    return this.code === 'USAGE' ? EXIT.USAGE : EXIT.FAILURE;
  }
}

interface ErrorFields {
  message?: unknown;
  code?: unknown;
  sqlState?: unknown;
  hint?: unknown;
  detail?: unknown;
  cause?: unknown;
  errors?: unknown;
  address?: unknown;
  port?: unknown;
}

function fields(error: unknown): ErrorFields | undefined {
  return typeof error === 'object' && error !== null ? error : undefined;
}

/** Five characters of digits and capitals, at least one digit (so `'USAGE'`-like codes are not taken for one). */
const SQLSTATE = /^(?=[A-Z]*\d)[0-9A-Z]{5}$/;

/** The SQLSTATE found on an error or anywhere on its `cause` chain (pg's `code`, koyo's `sqlState`). */
export function findSqlState(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && depth < 8; depth++) {
    const f = fields(current);
    if (!f) return undefined;
    if (typeof f.sqlState === 'string' && SQLSTATE.test(f.sqlState)) return f.sqlState;
    if (typeof f.code === 'string' && SQLSTATE.test(f.code)) return f.code;
    current = f.cause;
  }
  return undefined;
}

function findString(error: unknown, key: 'hint' | 'detail'): string | undefined {
  for (let current = error, depth = 0; current !== undefined && depth < 8; depth++) {
    const f = fields(current);
    if (!f) return undefined;
    const value = f[key];
    if (typeof value === 'string' && value.length > 0) return value;
    current = f.cause;
  }
  return undefined;
}

/** Node's network error codes, as a PostgreSQL connection attempt reports them. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EPIPE',
]);

function networkError(error: unknown): ErrorFields | undefined {
  for (let current = error, depth = 0; current !== undefined && depth < 8; depth++) {
    const f = fields(current);
    if (!f) return undefined;
    if (typeof f.code === 'string' && NETWORK_CODES.has(f.code)) return f;
    // AggregateError from happy-eyeballs connects: look at the first attempt.
    if (Array.isArray(f.errors) && f.errors.length > 0) return networkError(f.errors[0]);
    current = f.cause;
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Formats any error as the one line the `koyo` command prints: the message, the SQLSTATE of a
 * PostgreSQL error (`[SQLSTATE 42501]`) and its hint. Never a stack trace.
 *
 * @example
 * formatError(pgError); // 'permission denied to create role [SQLSTATE 42501]'
 */
export function formatError(error: unknown): string {
  const f = fields(error);
  let message =
    error instanceof Error || typeof f?.message === 'string' ? String(f?.message) : String(error);
  if (message.length === 0 && error instanceof Error) message = error.name;
  const net = networkError(error);
  if (net && !(error instanceof KoyoCliError)) {
    const where =
      typeof net.address === 'string'
        ? ` at ${net.address}${typeof net.port === 'number' ? `:${net.port}` : ''}`
        : '';
    message = `cannot connect to PostgreSQL${where}: ${String(net.code)} (${oneLine(String(net.message ?? ''))}). Is the server running, and are the host and port of the connection right?`;
  }
  let line = oneLine(message);
  const sqlState = findSqlState(error);
  if (sqlState && !line.includes(sqlState)) line += ` [SQLSTATE ${sqlState}]`;
  const hint = findString(error, 'hint');
  if (hint && !line.includes(hint)) line += ` (hint: ${oneLine(hint)})`;
  return line;
}
