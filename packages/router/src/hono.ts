/**
 * `@koyo/router/hono`: causal reads for Hono apps. Each request runs in a routing session at the
 * position its `koyo-lsn` header (or cookie) names, and responses after writes carry the new
 * position, so reads never see data older than what the client (or the calling service) has seen.
 *
 * @packageDocumentation
 */
import type { CausalReadsOptions, PositionRouter } from './causal-reads.js';
import { causalReadsSession } from './http-token.js';

export * from './causal-reads.js';

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
  const session = causalReadsSession(router, options);
  return (c, next) =>
    session.run(c.req.header(session.header), c.req.header('cookie'), async () => {
      await next();
      const response = session.response();
      if (response === undefined) return;
      c.header(session.header, response.token);
      if (response.cookie !== undefined) c.header('set-cookie', response.cookie, { append: true });
    });
}
