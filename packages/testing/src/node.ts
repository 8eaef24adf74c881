import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { PostgresBinaries } from './binaries.js';
import { KoyoTestingError } from './errors.js';
import { childEnv, isAlive, sleep, waitForExit, type RunAs } from './process.js';

/** Result rows of {@link PgNode.query}. */
export type QueryRow = Record<string, any>;

/** @internal what a node needs to run. */
export interface NodeSpec {
  name: string;
  role: 'primary' | 'replica';
  dir: string;
  port: number;
  binaries: PostgresBinaries;
  runAs: RunAs | undefined;
}

/**
 * One PostgreSQL server of a test cluster, listening on 127.0.0.1 at a port picked at run time.
 * Superuser `postgres`, trust authentication, database `postgres`.
 */
export class PgNode {
  /** `primary-…` or `replica1-…`, for messages. */
  readonly name: string;
  readonly host = '127.0.0.1';
  readonly port: number;
  /** A `postgres://` connection string for the `postgres` database as superuser `postgres`. */
  readonly url: string;
  /** The server's data directory. */
  readonly dataDir: string;
  /** The server's log file. */
  readonly logFile: string;
  #role: 'primary' | 'replica';
  #pool: pg.Pool | undefined;
  readonly #spec: NodeSpec;

  /** @internal nodes are made by {@link startCluster}. */
  constructor(spec: NodeSpec) {
    this.#spec = spec;
    this.name = spec.name;
    this.port = spec.port;
    this.#role = spec.role;
    this.dataDir = join(spec.dir, 'data');
    this.logFile = join(spec.dir, 'server.log');
    this.url = this.urlFor('postgres');
  }

  /** `primary`, or `replica` until {@link PgNode.promote} succeeds. */
  get role(): 'primary' | 'replica' {
    return this.#role;
  }

  /** A connection string for another database on this server. */
  urlFor(database: string): string {
    return `postgres://postgres@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  /** The postmaster's process id, or undefined when it is not running. */
  get pid(): number | undefined {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return undefined;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /** Runs SQL on this node's `postgres` database through a small pool; resolves with the rows. */
  async query<Row extends QueryRow = QueryRow>(sql: string, params?: unknown[]): Promise<Row[]> {
    this.#pool ??= this.#createPool();
    const result = await this.#pool.query<Row>(sql, params);
    return result.rows;
  }

  #createPool(): pg.Pool {
    const pool = new pg.Pool({ connectionString: this.url, max: 4, idleTimeoutMillis: 5_000 });
    // an idle connection dies when a test kills this node: that is expected, not a crash
    pool.on('error', () => undefined);
    return pool;
  }

  async #closePool(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end().catch(() => undefined);
  }

  /**
   * Starts the server and waits until it accepts connections. The postmaster is a direct child
   * of this process (not daemonized), so it is reaped here even where PID 1 reaps nothing.
   */
  async start(): Promise<void> {
    if (this.pid) return;
    await this.#clearDeadLock();
    const log = openSync(this.logFile, 'a');
    // detached: its own process group, so a Ctrl-C meant for the app (the terminal signals the
    // whole foreground group) does not shut the server down under it; stop() still ends it.
    const spawnOptions: SpawnOptions = {
      stdio: ['ignore', log, log],
      env: childEnv(),
      cwd: '/',
      detached: true,
    };
    if (this.#spec.runAs) {
      spawnOptions.uid = this.#spec.runAs.uid;
      spawnOptions.gid = this.#spec.runAs.gid;
    }
    const child = spawn(
      join(this.#spec.binaries.binDir, 'postgres'),
      ['-D', this.dataDir, '-p', String(this.port)],
      spawnOptions,
    );
    closeSync(log);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    child.once('error', () => {
      exited = true;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) break;
      if (await this.#acceptsConnections()) return;
      if (Date.now() > deadline) break;
      await sleep(20);
    }
    if (!exited) child.kill('SIGKILL');
    throw new KoyoTestingError(
      'START_FAILED',
      `PostgreSQL ${this.name} (port ${this.port}) did not start.\n--- last lines of ${this.logFile} ---\n${await this.logTail()}`,
    );
  }

  /**
   * A SIGKILLed postmaster stays a zombie until its parent reaps it (never, where PID 1 reaps
   * nothing). PostgreSQL's lock-file check (`kill(pid, 0)`) takes a zombie for a running server
   * and refuses to start, so once every process of the old server is dead (kill() waited for
   * that) a lock file naming a zombie is stale and is removed.
   */
  async #clearDeadLock(): Promise<void> {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return;
    const deadline = Date.now() + 5_000;
    while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(20);
    if (existsSync(`/proc/${pid}`) && !isAlive(pid)) rmSync(pidFile, { force: true });
  }

  async #acceptsConnections(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Stops the server cleanly (fast shutdown: open sessions are ended, data is flushed). */
  async stop(): Promise<void> {
    await this.#closePool();
    const pid = this.pid;
    if (!pid) return;
    process.kill(pid, 'SIGINT');
    await waitForExit([pid], 60_000);
    if (isAlive(pid)) {
      throw new KoyoTestingError(
        'STOP_FAILED',
        `PostgreSQL ${this.name} (pid ${pid}) did not stop within 60 s.`,
      );
    }
  }

  /** Stops and starts the server. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /**
   * Crashes the server: SIGKILL to the postmaster and every backend, as a machine failure would.
   * The next {@link PgNode.start} runs crash recovery.
   */
  async kill(): Promise<void> {
    await this.#closePool();
    const pid = this.pid;
    if (!pid) return;
    const victims = [pid, ...childPids(pid)];
    for (const victim of victims) {
      try {
        process.kill(victim, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitForExit(victims);
  }

  /** Pauses WAL replay on a replica: it keeps receiving WAL but applies none of it. */
  async pauseReplay(): Promise<void> {
    this.#assertReplica('pauseReplay');
    await this.query('SELECT pg_wal_replay_pause()');
  }

  /** Resumes WAL replay on a replica. */
  async resumeReplay(): Promise<void> {
    this.#assertReplica('resumeReplay');
    await this.query('SELECT pg_wal_replay_resume()');
  }

  /** Promotes a replica to a writable primary and waits until it leaves recovery. */
  async promote(): Promise<void> {
    this.#assertReplica('promote');
    await this.query('SELECT pg_promote(true, 60)');
    const [row] = await this.query<{ recovering: boolean }>(
      'SELECT pg_is_in_recovery() AS recovering',
    );
    if (row?.recovering)
      throw new KoyoTestingError('TIMEOUT', `${this.name} is still in recovery after pg_promote`);
    this.#role = 'primary';
  }

  /** The last lines of the server log, for error messages. */
  async logTail(lines = 30): Promise<string> {
    try {
      return (await readFile(this.logFile, 'utf8')).split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log file)';
    }
  }

  /** @internal appends settings to postgresql.conf (later lines win). */
  async configure(settings: Record<string, string | number | boolean>): Promise<void> {
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${quoteSetting(value)}`);
    await appendFile(
      join(this.dataDir, 'postgresql.conf'),
      `\n# @koyo/testing\n${lines.join('\n')}\n`,
    );
  }

  /** @internal turns a copied data directory into a standby of `primary`. */
  async makeStandbyOf(primary: PgNode, slotName: string, slotSync = false): Promise<void> {
    // Slot synchronisation (17+) needs a database in primary_conninfo and hot_standby_feedback.
    const dbname = slotSync ? ' dbname=postgres' : '';
    await this.configure({
      primary_conninfo: `host=${primary.host} port=${primary.port} user=postgres application_name=${this.name}${dbname}`,
      primary_slot_name: slotName,
      ...(slotSync ? { hot_standby_feedback: 'on', sync_replication_slots: 'on' } : {}),
    });
    await writeFile(join(this.dataDir, 'standby.signal'), '');
  }

  #assertReplica(method: string): void {
    if (this.#role !== 'replica') {
      throw new KoyoTestingError(
        'NOT_A_REPLICA',
        `${method}() needs a replica, but ${this.name} is a primary.`,
      );
    }
  }
}

function quoteSetting(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** Direct children of a process (backends of a postmaster), from /proc where it exists. */
export function childPids(parent: number): number[] {
  if (!existsSync('/proc')) return [];
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}
