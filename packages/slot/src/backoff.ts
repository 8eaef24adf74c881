/** How a stream reconnects after losing its connection. */
export interface ReconnectOptions {
  /** Delay before the first retry, in ms. Default 200. */
  initialDelayMs?: number;
  /** Upper bound of the delay, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Give up after this many consecutive failed attempts (`RECONNECT_FAILED`). Default: never give up. */
  maxAttempts?: number;
}

/** @internal reconnect options with defaults applied. */
export interface ResolvedReconnect {
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}

/** @internal */
export function resolveReconnect(options: ReconnectOptions = {}): ResolvedReconnect {
  return {
    initialDelayMs: options.initialDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 30_000,
    maxAttempts: options.maxAttempts ?? Number.POSITIVE_INFINITY,
  };
}

/**
 * @internal exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(max, initial * 2^(n-1)), so many consumers that lost the same server do not return in step.
 */
export function backoffDelay(
  attempt: number,
  options: ResolvedReconnect,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
