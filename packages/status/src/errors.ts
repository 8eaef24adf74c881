/** Every `code` a {@link KoyoStatusError} can carry. */
export type KoyoStatusErrorCode =
  /** An option has a wrong type or value (a port out of range, nothing to show, ...). */
  | 'INVALID_OPTION'
  /** A non-loopback address was asked for without `allowRemote: true` (`--allow-remote`). */
  | 'NOT_LOOPBACK'
  /** The address could not be bound (in use, not permitted). */
  | 'LISTEN_FAILED'
  /** `serveMetrics` needs the OpenTelemetry SDK packages, which are optional peer dependencies. */
  | 'MISSING_DEPENDENCY';

/**
 * The one error class of `@koyo/status`, with a string `code` and a message that says what to do.
 *
 * @example
 * try { await serveStatus({ dispatcher, port: 80 }); }
 * catch (error) { if (error instanceof KoyoStatusError && error.code === 'LISTEN_FAILED') ... }
 */
export class KoyoStatusError extends Error {
  override readonly name = 'KoyoStatusError';
  constructor(
    readonly code: KoyoStatusErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
