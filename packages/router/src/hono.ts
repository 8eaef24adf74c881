/**
 * `@koyo/router/hono`: causal reads for Hono apps. Each request runs in a routing session at the
 * position its `koyo-lsn` header (or cookie) names, and responses after writes carry the new
 * position, so reads never see data older than what the client (or the calling service) has seen.
 *
 * @packageDocumentation
 */
import {
  resolveCausalReads,
  requestToken,
  runAtRequestPosition,
  tokenCookie,
  type CausalReadsOptions,
  type PositionRouter,
} from './http-token.js';

export {
  POSITION_HEADER,
  positionFetch,
  type CausalReadsOptions,
  type PositionRouter,
} from './http-token.js';

/** The part of Hono's `Context` the middleware uses (structural, so no type import from hono). */
export interface HonoContextLike {
  readonly req: { header(name: string): string | undefined };
  header(name: string, value: string, options?: { append?: boolean }): void;
}

/**
 * Hono middleware: runs the request at the position of its `koyo-lsn` header (or cookie) and sets
 * the header (and cookie) on the response when the request's session has a position (it wrote,
 * or came with one). An unreadable token sends the request's reads to the primary.
 *
 * @example
 * import { Hono } from 'hono';
 * import { causalReads } from '@koyo/router/hono';
 * const app = new Hono();
 * app.use(causalReads(pool.router, { cookie: true }));
 */
export function causalReads(
  router: PositionRouter,
  options?: CausalReadsOptions,
): (c: HonoContextLike, next: () => Promise<void>) => Promise<void> {
  const resolved = resolveCausalReads(options);
  return (c, next) => {
    const token = requestToken(resolved, c.req.header(resolved.header), c.req.header('cookie'));
    return runAtRequestPosition(router, token, async () => {
      await next();
      const now = router.readYourWritesToken();
      if (now === undefined) return;
      c.header(resolved.header, now);
      const cookie = tokenCookie(resolved, now);
      if (cookie !== undefined) c.header('set-cookie', cookie, { append: true });
    });
  };
}
