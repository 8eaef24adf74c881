import type { Server } from 'node:http';
import { isIP } from 'node:net';
import { KoyoStatusError } from './errors.js';

/** Where a server listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `[host:]port` (`9464`, `127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464`); the host
 * defaults to `127.0.0.1`. Throws `INVALID_OPTION` on anything else.
 *
 * @example
 * parseListen('9464'); // { host: '127.0.0.1', port: 9464 }
 */
export function parseListen(text: string, what = 'address'): ListenAddress {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new KoyoStatusError(
      'INVALID_OPTION',
      `${what}: expected [host:]port such as 9464 or 127.0.0.1:9464, got ${JSON.stringify(text)}.`,
    );
  }
  const host = match[1] === undefined ? '127.0.0.1' : match[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Refuses a non-loopback host unless `allowRemote`; with it, calls `warn` with a sentence to show.
 * Loopback is the default because the page and the metrics carry table names, positions and
 * error messages.
 */
export function checkExposure(
  host: string,
  allowRemote: boolean | undefined,
  what: string,
  warn: (message: string) => void,
): void {
  if (isLoopback(host)) return;
  if (!allowRemote) {
    throw new KoyoStatusError(
      'NOT_LOOPBACK',
      `${what} would listen on ${host}, which other machines can reach; it shows table names, WAL positions and error messages. Listen on 127.0.0.1 (the default), or pass allowRemote: true (koyo: --allow-remote) behind a firewall or proxy you control.`,
    );
  }
  warn(
    `${what} listens on ${host}: reachable from other machines, without authentication. Keep it behind a firewall or an authenticating proxy.`,
  );
}

/** A connection string with its password replaced by `***`, for display. */
export function redactConnection(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()])
      if (/pass/i.test(key)) parsed.searchParams.set(key, '***');
    return parsed.toString();
  } catch {
    return url
      .replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@')
      .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***');
  }
}

/** `server.listen` as a promise; a failure to bind is `LISTEN_FAILED`. */
export function listen(server: Server, host: string, port: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new KoyoStatusError(
          'LISTEN_FAILED',
          `${what} could not listen on ${host}:${port} (${error.code ?? error.message}); choose another port.`,
          { cause: error },
        ),
      ),
    );
    server.listen(port, host, resolve);
  });
}

/** The port a listening server got (the asked one unless it was 0). */
export function urlPort(server: Server, asked: number): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : asked;
}

/** The options every local HTTP endpoint of this package takes: where it listens, and who may reach it. */
export interface EndpointOptions {
  /** Port; 0 picks a free one (see the server's `url`). */
  port: number;
  /** Address to bind. Default `127.0.0.1`; anything that is not loopback needs `allowRemote`. */
  host?: string;
  /** Allow a non-loopback `host` (the endpoint has no authentication); a warning is printed. Default false. */
  allowRemote?: boolean;
  /** Where the warning for a non-loopback host goes. Default `console.warn`. */
  warn?: (message: string) => void;
}

/**
 * @internal checks an endpoint's port (`INVALID_OPTION`, naming `caller`) and host (see
 * {@link checkExposure}) and returns the host to bind, `127.0.0.1` by default.
 */
export function endpointHost(caller: string, what: string, options: EndpointOptions): string {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new KoyoStatusError(
      'INVALID_OPTION',
      `${caller}: port must be an integer 0..65535, got ${String(options.port)}.`,
    );
  const host = options.host ?? '127.0.0.1';
  checkExposure(host, options.allowRemote, what, options.warn ?? ((m) => console.warn(m)));
  return host;
}

/**
 * @internal starts `server` on `host:port` ({@link listen}), unref'd so it does not keep the
 * process alive, and returns its base URL, `http://host:port` (an IPv6 host in brackets).
 */
export async function serveOn(
  server: Server,
  host: string,
  port: number,
  what: string,
): Promise<string> {
  await listen(server, host, port, what);
  server.unref();
  return `http://${host.includes(':') ? `[${host}]` : host}:${urlPort(server, port)}`;
}
