/**
 * Errors that mean "this node is unreachable or going away", as opposed to "this statement
 * failed": SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect
 * now), 53300 (too many connections), the socket errors of Node, and the connection errors of
 * `pg` and postgres.js.
 *
 * Wrapped errors (an ORM's error whose `cause` is the driver's, e.g. Drizzle's
 * `DrizzleQueryError`) are judged by their causes too.
 *
 * @example
 * isConnectionError({ code: 'ECONNREFUSED' }); // true
 * isConnectionError({ code: '23505' });        // false
 * isConnectionError(new Error('Failed query', { cause: { code: '57P01' } })); // true
 */
export function isConnectionError(error: unknown): boolean {
  return causes(error).some(isOwnConnectionError);
}

/** @internal the error and its `cause` chain (bounded, so a cyclic chain cannot loop). */
export function causes(error: unknown): object[] {
  const chain: object[] = [];
  let current = error;
  while (
    current !== null &&
    typeof current === 'object' &&
    chain.length < 8 &&
    !chain.includes(current)
  ) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function isOwnConnectionError(error: object): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') && code.length === 5) return true;
    if (CONNECTION_CODES.has(code)) return true;
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string') {
    // pg (node-postgres) reports lost sockets with plain Errors and no code.
    if (
      message.includes('Connection terminated') ||
      message.includes('connection timeout') ||
      message.includes('Client has encountered a connection error') ||
      message.includes('the database system is')
    ) {
      return true;
    }
  }
  return false;
}

const CONNECTION_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'PROBE_TIMEOUT',
]);

/** @internal SQLSTATE of a driver error (or of the first error in its `cause` chain that has one). */
export function sqlstateOf(error: unknown): string | undefined {
  for (const candidate of causes(error)) {
    const code = (candidate as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** @internal rejects with `onTimeout()` when `promise` takes longer than `ms`. */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
