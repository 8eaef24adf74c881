/**
 * A pino-compatible logger: pass a pino logger, `console`-like adapter, or nothing.
 *
 * @example
 * import pino from 'pino';
 * openReplicationStream({ ..., logger: pino() });
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** @internal a logger that drops everything. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
