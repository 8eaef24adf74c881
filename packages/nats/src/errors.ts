/** What went wrong in `@koyo/nats`. */
export type KoyoNatsErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_NAME'
  | 'STREAM_MISMATCH'
  | 'DUPLICATE_WINDOW_TOO_SHORT'
  | 'JETSTREAM_UNAVAILABLE'
  | 'ALREADY_STARTED'
  | 'STOPPED'
  | 'RELAY_FAILED'
  | 'MESSAGE_TOO_LARGE'
  | 'HANDLER_FAILED';

/**
 * The one error class of `@koyo/nats`. `code` says what failed; `message` says what to do.
 *
 * @example
 * relay.start().catch((e) => { if (e instanceof KoyoNatsError && e.code === 'STREAM_MISMATCH') ... });
 */
export class KoyoNatsError extends Error {
  override readonly name = 'KoyoNatsError';
  readonly code: KoyoNatsErrorCode;

  constructor(code: KoyoNatsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
