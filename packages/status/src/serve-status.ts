import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { KoyoStatusError } from './errors.js';
import { endpointHost, redactConnection, serveOn, type EndpointOptions } from './listen.js';
import { StatusSampler, type StatusDispatcher, type StatusRouter } from './sampler.js';

/** Options of {@link serveStatus}. */
export interface ServeStatusOptions extends EndpointOptions {
  /** The dispatcher to show (`createDispatcher(...)`). */
  dispatcher?: StatusDispatcher;
  /** The router to show (`pool.router` of `@koyo/router/pg`, `sql.router` of `@koyo/router/postgres`). */
  router?: StatusRouter;
  /** Heading of the page, e.g. the slot and publication. Default `koyo`. */
  title?: string;
  /** Connection string to show; its password is always replaced by `***`. */
  connection?: string;
  /** Seconds of history kept for the charts. Default 900 (15 minutes). */
  historySeconds?: number;
}

/** A running status page: {@link serveStatus}. */
export interface StatusServer {
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Stops sampling, ends the live connections and closes the server. */
  close(): Promise<void>;
}

const assets = new URL('../assets/', import.meta.url);
const require = createRequire(import.meta.url);

function asset(path: string): Buffer {
  return readFileSync(path);
}

const FILES: Record<string, { type: string; path: () => string }> = {
  '/': { type: 'text/html; charset=utf-8', path: () => new URL('index.html', assets).pathname },
  '/app.js': {
    type: 'text/javascript; charset=utf-8',
    path: () => new URL('app.js', assets).pathname,
  },
  '/style.css': {
    type: 'text/css; charset=utf-8',
    path: () => new URL('style.css', assets).pathname,
  },
  '/uplot.js': {
    type: 'text/javascript; charset=utf-8',
    path: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
  },
  '/uplot.css': {
    type: 'text/css; charset=utf-8',
    path: () => require.resolve('uplot/dist/uPlot.min.css'),
  },
};

/** Nothing leaves the machine: the page may load only what this server serves. */
const HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * Serves a live status page for a dispatcher and/or a router: slot lag over the last 15
 * minutes, changes/s per table, handler p50/p99, errors and dead letters with the last error,
 * acknowledged LSN and last commit time, reconnects, and each replica's health and lag. The
 * page updates every second over server-sent events (`/events`); `/api/status` gives the same
 * data as JSON. No build step, no external requests (uPlot is served from this package).
 * Listens on 127.0.0.1 unless `allowRemote` is set.
 *
 * @example
 * const status = await serveStatus({ dispatcher, port: 9465 });
 * console.log(`status page: ${status.url}`);
 */
export async function serveStatus(options: ServeStatusOptions): Promise<StatusServer> {
  const { dispatcher, router } = options;
  if (!dispatcher && !router)
    throw new KoyoStatusError(
      'INVALID_OPTION',
      'serveStatus: pass a dispatcher, a router, or both.',
    );
  const host = endpointHost('serveStatus', 'The status page', options);
  const historySeconds = options.historySeconds ?? 900;
  const sampler = new StatusSampler(dispatcher, router, historySeconds);
  const meta = JSON.stringify({
    title: options.title ?? 'koyo',
    connection: options.connection === undefined ? null : redactConnection(options.connection),
    historySeconds,
  });
  const streams = new Set<ServerResponse>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...HEADERS }).end();
      return;
    }
    if (path === '/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        connection: 'keep-alive',
        ...HEADERS,
      });
      res.write(
        `retry: 2000\nevent: meta\ndata: ${meta}\n\nevent: history\ndata: ${JSON.stringify(sampler.history())}\n\n`,
      );
      const stop = sampler.subscribe((sample) =>
        res.write(`event: sample\ndata: ${JSON.stringify(sample)}\n\n`),
      );
      streams.add(res);
      req.on('close', () => {
        stop();
        streams.delete(res);
      });
      return;
    }
    if (path === '/api/status') {
      res.writeHead(200, { 'content-type': 'application/json', ...HEADERS });
      res.end(`{"meta":${meta},"history":${JSON.stringify(sampler.history())}}`);
      return;
    }
    const file = FILES[path];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain', ...HEADERS }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, ...HEADERS });
    res.end(req.method === 'HEAD' ? undefined : asset(file.path()));
  });

  const base = await serveOn(server, host, options.port, 'The status page');
  sampler.start(1000);
  return {
    url: `${base}/`,
    close: async () => {
      sampler.stop();
      for (const res of streams) res.end();
      streams.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
