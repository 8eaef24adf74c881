/**
 * `@koyo/router/express`: causal reads for Express (and Connect-style) apps. Each request runs in
 * a routing session at the position its `koyo-lsn` header (or cookie) names, and responses after
 * writes carry the new position.
 *
 * @packageDocumentation
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import onHeaders from 'on-headers';
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

/**
 * Express middleware: runs the rest of the request at the position of its `koyo-lsn` header (or
 * cookie) and, just before the response headers go out, sets the header (and cookie) when the
 * request's session has a position. Express has no hook before headers are written, so the
 * header is added through `on-headers`. Mount it after body parsers: the session follows the
 * request through Express's `next()` chain.
 *
 * @example
 * import express from 'express';
 * import { causalReads } from '@koyo/router/express';
 * const app = express();
 * app.use(express.json(), causalReads(pool.router));
 */
export function causalReads(
  router: PositionRouter,
  options?: CausalReadsOptions,
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  const resolved = resolveCausalReads(options);
  return (req, res, next) => {
    const header = req.headers[resolved.header];
    const token = requestToken(
      resolved,
      Array.isArray(header) ? header[0] : header,
      req.headers.cookie,
    );
    runAtRequestPosition(router, token, () => {
      // The headers may be written from any async context; read the token in this request's.
      const inRequest = AsyncLocalStorage.snapshot();
      onHeaders(res, () => {
        const now = inRequest(() => router.readYourWritesToken());
        if (now === undefined) return;
        res.setHeader(resolved.header, now);
        const cookie = tokenCookie(resolved, now);
        if (cookie === undefined) return;
        const previous = res.getHeader('set-cookie');
        const list =
          previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
        res.setHeader('set-cookie', [...list, cookie]);
      });
      next();
    });
  };
}
