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
import type { CausalReadsOptions, PositionRouter } from './causal-reads.js';
import { causalReadsSession } from './http-token.js';

export * from './causal-reads.js';

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
  const session = causalReadsSession(router, options);
  return (req, res, next) => {
    const header = req.headers[session.header];
    const value = Array.isArray(header) ? header[0] : header;
    session.run(value, req.headers.cookie, () => {
      // The headers may be written from any async context; read the token in this request's.
      const inRequest = AsyncLocalStorage.snapshot();
      onHeaders(res, () => {
        const response = inRequest(() => session.response());
        if (response === undefined) return;
        res.setHeader(session.header, response.token);
        if (response.cookie === undefined) return;
        const previous = res.getHeader('set-cookie');
        const list =
          previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
        res.setHeader('set-cookie', [...list, response.cookie]);
      });
      next();
    });
  };
}
