import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KoyoTestingError } from './errors.js';
import { freePort } from './ports.js';
import { isAlive, sleep, waitForExit } from './process.js';

/** A throwaway `nats-server -js` from {@link startNats} (or the server named by `NATS_URL`). */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`: what clients connect to. */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (kept across `stop()`/`start()`, removed by `close()`). */
  readonly storeDir: string | null;
  /** True when this is an external server from `NATS_URL` (stop/start/kill then throw). */
  readonly external: boolean;
  /** Whether the server process is running. */
  running(): boolean;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); the store is kept. */
  stop(): Promise<void>;
  /** SIGKILLs the server, as a crash would; the store is kept. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes the store. */
  close(): Promise<void>;
}

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** The `nats-server` binary. Default: `nats-server` on `PATH`, else `/usr/sbin/nats-server`. */
  binary?: string;
}

/** Finds the nats-server binary: PATH, then Debian's /usr/sbin. */
export function findNatsServer(): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(':').filter(Boolean),
    '/usr/sbin',
    '/usr/local/sbin',
  ];
  for (const dir of dirs) {
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const live = new Map<number, ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live.values()) child.kill('SIGKILL');
  });
}

// Kills the server and removes its store if the test process dies without cleaning up (SIGKILL).
const WATCHDOG_SOURCE = String.raw`
const fs = require('node:fs');
const [parent, pidFile, dir] = [Number(process.argv[1]), process.argv[2], process.argv[3]];
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const timer = setInterval(() => {
  if (!fs.existsSync(dir)) process.exit(0);
  if (alive(parent)) return;
  clearInterval(timer);
  try { process.kill(Number(fs.readFileSync(pidFile, 'utf8').trim()), 'SIGKILL'); } catch {}
  setTimeout(() => { fs.rmSync(dir, { recursive: true, force: true }); process.exit(0); }, 500);
}, 250);
`;

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `nats-server -js` on a free loopback port with its JetStream store in a temp dir. The
 * server is stopped on `close()`, on process exit and, by a detached watchdog, when the test
 * process is killed. Without a binary, a `NATS_URL` in the environment is used as an external
 * server; with neither, it fails with `NATS_NOT_FOUND`.
 *
 * @example
 * const nats = await startNats();
 * const nc = await connect({ servers: nats.url });
 * await nats.stop(); // NATS down
 * await nats.start(); // back, same port and store
 * await nats.close();
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? findNatsServer();
  if (!binary) {
    const external = process.env.NATS_URL?.trim();
    if (external) return externalServer(external);
    throw new KoyoTestingError(
      'NATS_NOT_FOUND',
      'No nats-server binary (looked on PATH and in /usr/sbin) and no NATS_URL. Install it (Debian: apt-get install nats-server) or set NATS_URL to a server with JetStream enabled.',
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'koyo-nats-'));
  const storeDir = join(dir, 'store');
  const pidFile = join(dir, 'nats.pid');
  let child: ChildProcess | undefined;
  let log = '';
  installExitHook();
  const watchdog = spawn(
    process.execPath,
    ['-e', WATCHDOG_SOURCE, String(process.pid), pidFile, dir],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watchdog.unref();

  const running = (): boolean =>
    child?.pid !== undefined && child.exitCode === null && isAlive(child.pid);

  const start = async (): Promise<void> => {
    if (running()) return;
    log = '';
    const started = spawn(
      binary,
      ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, '-P', pidFile],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    started.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-4000);
    });
    child = started;
    if (started.pid) live.set(started.pid, started);
    const deadline = Date.now() + 30_000;
    while (!(await canConnect(port))) {
      if (started.exitCode !== null || Date.now() > deadline) {
        throw new KoyoTestingError(
          'START_FAILED',
          `nats-server did not start on port ${port}:\n${log.trim()}`,
        );
      }
      await sleep(25);
    }
    // JetStream is ready once the server logs it; connecting is enough for clients to retry.
    while (!log.includes('Server is ready') && Date.now() < deadline) await sleep(25);
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (!current?.pid || current.exitCode !== null) return;
    current.kill(signal);
    await waitForExit([current.pid], 10_000);
    if (isAlive(current.pid)) {
      current.kill('SIGKILL');
      await waitForExit([current.pid], 10_000);
    }
    live.delete(current.pid);
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    external: false,
    running,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    start,
    async close() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function externalServer(url: string): NatsServer {
  const unsupported = (): Promise<void> =>
    Promise.reject(
      new KoyoTestingError(
        'INVALID_OPTION',
        `The NATS server at NATS_URL=${url} is external: it cannot be stopped or started from a test.`,
      ),
    );
  const port = Number(/:(\d+)\/?$/.exec(url)?.[1] ?? 4222);
  return {
    url,
    port,
    storeDir: null,
    external: true,
    running: () => true,
    stop: unsupported,
    kill: unsupported,
    start: unsupported,
    close: () => Promise.resolve(),
  };
}
