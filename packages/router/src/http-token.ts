import { parse as parseCookie, serialize as serializeCookie, type SerializeOptions } from 'cookie';
import { readFromPrimary } from './context.js';
import { parsePosition } from './token.js';

/** Header that carries a read position between services, on requests and responses. */
export const POSITION_HEADER = 'koyo-lsn';

/** The part of a {@link Router} the HTTP helpers use (so any router or routed pool's `router` fits). */
export interface PositionRouter {
  readYourWritesToken(): string | undefined;
  withToken<T>(token: string | undefined, fn: () => T): T;
}

/** Options of the HTTP middleware (`@koyo/router/hono`, `@koyo/router/express`). */
export interface CausalReadsOptions {
  /** Request and response header carrying the token. Default `'koyo-lsn'`. */
  readonly header?: string;
  /**
   * Also read the token from a cookie and set it there after writes, for browsers: `true` uses the
   * header's name, a string names the cookie. Default `false` (header only).
   */
  readonly cookie?: boolean | string;
  /** Cookie attributes; default `{ path: '/', httpOnly: true, sameSite: 'lax' }`. */
  readonly cookieOptions?: SerializeOptions;
}

/** @internal the resolved options. */
export interface ResolvedCausalReads {
  readonly header: string;
  readonly cookie: string | undefined;
  readonly cookieOptions: SerializeOptions;
}

/** @internal */
export function resolveCausalReads(options: CausalReadsOptions = {}): ResolvedCausalReads {
  const header = (options.header ?? POSITION_HEADER).toLowerCase();
  const cookie =
    options.cookie === true
      ? header
      : typeof options.cookie === 'string'
        ? options.cookie
        : undefined;
  return {
    header,
    cookie,
    cookieOptions: options.cookieOptions ?? { path: '/', httpOnly: true, sameSite: 'lax' },
  };
}

/** @internal the token a request carries: the header first, then the cookie. */
export function requestToken(
  options: ResolvedCausalReads,
  header: string | undefined,
  cookieHeader: string | undefined,
): string | undefined {
  if (header !== undefined && header !== '') return header;
  if (options.cookie === undefined || cookieHeader === undefined) return undefined;
  const value = parseCookie(cookieHeader)[options.cookie];
  return value === '' ? undefined : value;
}

/**
 * @internal runs `fn` in a session at the request's position. A token this router cannot read (a
 * tampered cookie) cannot be honoured, so the request reads from the primary instead of failing.
 */
export function runAtRequestPosition<T>(
  router: PositionRouter,
  token: string | undefined,
  fn: () => T,
): T {
  if (token !== undefined && !isPosition(token))
    return router.withToken(undefined, () => readFromPrimary(fn));
  return router.withToken(token, fn);
}

/** @internal the `Set-Cookie` value for a token. */
export function tokenCookie(options: ResolvedCausalReads, token: string): string | undefined {
  return options.cookie === undefined
    ? undefined
    : serializeCookie(options.cookie, token, options.cookieOptions);
}

/** @internal what a framework middleware does around each request, from its options. */
export interface CausalReadsSession {
  /** The header carrying the token, lowercase. */
  readonly header: string;
  /** Runs `fn` in a session at the position of the request's header (or cookie). */
  run<T>(header: string | undefined, cookieHeader: string | undefined, fn: () => T): T;
  /** The token and `Set-Cookie` value to send back, or undefined when the session has no position. */
  response(): { token: string; cookie: string | undefined } | undefined;
}

/** @internal the per-request steps shared by `@koyo/router/hono` and `@koyo/router/express`. */
export function causalReadsSession(
  router: PositionRouter,
  options?: CausalReadsOptions,
): CausalReadsSession {
  const resolved = resolveCausalReads(options);
  return {
    header: resolved.header,
    run: (header, cookieHeader, fn) =>
      runAtRequestPosition(router, requestToken(resolved, header, cookieHeader), fn),
    response: () => {
      const token = router.readYourWritesToken();
      return token === undefined ? undefined : { token, cookie: tokenCookie(resolved, token) };
    },
  };
}

function isPosition(token: string): boolean {
  try {
    parsePosition(token);
    return true;
  } catch {
    return false;
  }
}

/**
 * A `fetch` that carries the current read position to another service: requests get the
 * `koyo-lsn` header with {@link Router.readYourWritesToken} of the current session (when there
 * is one), so the other service's reads see this one's writes; a `koyo-lsn` header on the
 * response is merged into the current session, so this service's later reads see the other's
 * writes. Outside a session (no middleware, `withToken` or `readAfter`) nothing is merged.
 *
 * @example
 * const fetchWithPosition = positionFetch(pool.router);
 * const res = await fetchWithPosition('http://billing.internal/invoices/7');
 */
export function positionFetch(
  router: PositionRouter & { readAfter<T>(position: string, fn: () => T): T },
  options: { header?: string; fetch?: typeof fetch } = {},
): typeof fetch {
  const header = (options.header ?? POSITION_HEADER).toLowerCase();
  const base = options.fetch ?? fetch;
  return async (input, init) => {
    const headers = new Headers(
      init?.headers ?? (input instanceof Request ? input.headers : undefined),
    );
    const token = router.readYourWritesToken();
    if (token !== undefined && !headers.has(header)) headers.set(header, token);
    const response = await base(input, { ...init, headers });
    const returned = response.headers.get(header);
    // readAfter inside a session only raises that session's position, which is what we want here.
    if (returned !== null && returned !== '' && isPosition(returned))
      router.readAfter(returned, () => undefined);
    return response;
  };
}
