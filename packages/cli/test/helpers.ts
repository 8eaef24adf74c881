// Helpers for the DB tests: they run the BUILT `koyo` (dist/bin.js) as a subprocess, as a user would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  lateBound,
  openPooledDatabase,
  uniqueName,
  until,
  type PooledTestDatabase,
} from '@koyo/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(packageDir, 'dist', 'bin.js');
// The stamp lives outside dist/ so it is never packed.
const stamp = join(packageDir, '.koyo-tmp', 'build-stamp');
const lock = join(packageDir, '.koyo-tmp', 'build.lock');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function fresh(): boolean {
  return existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(join(packageDir, 'src'));
}

/**
 * Makes sure dist/ matches src/: turbo builds only the dependencies before `test`, so the CLI's
 * own build happens here. Test files run in parallel workers: a lock directory lets one of them
 * build while the others wait, then see the fresh stamp.
 */
export async function ensureBuilt(): Promise<void> {
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  while (!fresh()) {
    try {
      mkdirSync(lock);
    } catch {
      // Someone else builds; a lock left by a killed run is taken over after two minutes.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000)
        rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for the koyo build');
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    try {
      if (fresh()) break;
      // TypeScript is a dev dependency of the workspace root.
      const tsc = join(packageDir, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');
      const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
        cwd: packageDir,
        encoding: 'utf8',
      });
      if (result.status !== 0)
        throw new Error(`building @koyo/cli failed:\n${result.stdout}${result.stderr}`);
      writeFileSync(stamp, new Date().toISOString());
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** What a finished `koyo` process printed. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function withoutDatabaseUrl(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  return env;
}

/** A long-running `koyo` process (run, tail) whose output can be waited for. */
export interface LiveCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout+stderr match `pattern`. */
  waitFor(pattern: RegExp, what: string): Promise<void>;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<CliResult>;
  /**
   * Stops the process with `signal`, as Ctrl-C or a service manager would, and checks that it
   * exited 0 (a graceful stop); resolves with what it printed.
   */
  stop(signal: 'SIGINT' | 'SIGTERM'): Promise<CliResult>;
}

/** Runs `koyo ...args` to completion. */
export function koyo(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return startKoyo(args, options).exited;
}

/**
 * Runs `koyo setup` on `url`: with `apply`, `--apply`; with `slot`, `--slot slot` (the slot and
 * publication); `--table` for each of `table`; with `role`, `--role role`.
 */
export function koyoSetup(options: {
  url: string;
  slot?: string;
  table: string | readonly string[];
  apply?: boolean;
  role?: string;
}): Promise<CliResult> {
  const tables = typeof options.table === 'string' ? [options.table] : options.table;
  return koyo([
    'setup',
    ...(options.apply ? ['--apply'] : []),
    '--url',
    options.url,
    ...(options.slot === undefined ? [] : ['--slot', options.slot]),
    ...tables.flatMap((table) => ['--table', table]),
    ...(options.role === undefined ? [] : ['--role', options.role]),
  ]);
}

/** Starts `koyo ...args` and returns at once. */
export function startKoyo(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): LiveCli {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? packageDir,
    env: { ...withoutDatabaseUrl(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    poke();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    poke();
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout: out, stderr: err });
      poke();
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal) {
      child.kill(signal);
      const result = await exited;
      expect(result.code, result.stderr).toBe(0);
      return result;
    },
    waitFor(pattern, what) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) {
            waiters.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check);
            reject(
              new Error(
                `koyo exited (${child.exitCode ?? child.signalCode}) before ${what}\nstdout:\n${out}\nstderr:\n${err}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** A test database plus a small pool. */
export type Db = PooledTestDatabase;

/** A fresh database on the shared cluster. */
export async function openDb(prefix: string): Promise<Db> {
  const db = await openPooledDatabase(prefix, 2);
  const endPool = db.close;
  return Object.assign(db, {
    async close(): Promise<void> {
      await endPool();
      // pool.end() resolves before the server has closed the sessions; a DROP DATABASE ... WITH
      // (FORCE) right after would terminate them and their 57P01 would surface as an unhandled error.
      const admin = new pg.Client(db.cluster.primary.url);
      await admin.connect();
      try {
        await waitUntil(
          async () =>
            (await admin.query('SELECT 1 FROM pg_stat_activity WHERE datname = $1', [db.name]))
              .rowCount === 0,
          `the sessions of ${db.name} to close`,
          10_000,
        ).catch(() => undefined); // drop() terminates whatever is left
      } finally {
        await admin.end();
      }
    },
  });
}

/** Drops the database's idle replication slots, closes the pool and drops the database. */
export async function dropDb(db: Db): Promise<void> {
  await db.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active',
    [db.name],
  );
  await db.close();
  await db.drop();
}

/**
 * The database of a test file: before its tests, `koyo` is built ({@link ensureBuilt}) and a fresh
 * database opened ({@link openDb}); after them, it is dropped with its idle slots ({@link dropDb}).
 * Call at the top of the file; the object returned stands for the database once the file's first
 * `beforeAll` has run (other hooks registered after this call run after it).
 */
export function useDb(prefix: string): Db {
  let db: Db | undefined;
  beforeAll(async () => {
    await ensureBuilt();
    db = await openDb(prefix);
  });
  afterAll(async () => {
    if (db) await dropDb(db);
  });
  return lateBound(`the ${prefix} database`, () => db);
}

export { uniqueName };

/**
 * A temporary project directory for `koyo init`. It lives in packages/cli/.koyo-tmp (git-ignored)
 * so that Node's module resolution from the generated files walks up to packages/cli/node_modules
 * and finds @koyo/cli's dependencies (@koyo/dispatcher, ...) as an installed project would; koyo
 * itself also maps `@koyo/cli` to the running CLI when it loads the config.
 */
export function tempProject(prefix: string): { dir: string; remove(): void } {
  const base = join(packageDir, '.koyo-tmp');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, `${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A {@link tempProject} removed after the tests of the file (or `describe`) it is created in. */
export function useProject(prefix: string): { dir: string } {
  const project = tempProject(prefix);
  afterAll(() => project.remove());
  return project;
}

/**
 * What a test file that runs `koyo` in a project works with: its database (`cli_<name>`, see
 * {@link useDb}), its project directory (see {@link useProject}) and a unique slot name for it.
 * Call at the top of the file.
 */
export function useKoyoProject(name: string): { db: Db; project: { dir: string }; slot: string } {
  const db = useDb(`cli_${name}`);
  const project = useProject(name);
  return { db, project, slot: uniqueName(`cli_${name}`) };
}

export { parseLsn as lsn } from '@koyo/pgoutput';

/** Polls `check` until it is true (a budget for a slow machine, not an assertion). */
export const waitUntil = (
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> => until(check, what, timeoutMs, 50);
