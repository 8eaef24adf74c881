import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './vitest.js';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns true; throws `timed out waiting for: <what>` after `timeoutMs`
 * (a generous budget for a slow machine, not a timing assertion).
 *
 * @example
 * await until(async () => (await queryUrl(url, 'SELECT 1')).length === 1, 'the server');
 */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Runs one statement on a URL with a throwaway client and returns its rows.
 *
 * @example
 * const [row] = await queryUrl<{ r: boolean }>(url, 'SELECT pg_is_in_recovery() AS r');
 */
export async function queryUrl<R extends pg.QueryResultRow = Record<string, any>>(
  url: string,
  text: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Waits until every replica URL has replayed the primary's current WAL position.
 *
 * @example
 * await waitForReplay(db.url, db.replicaUrls);
 */
export async function waitForReplay(
  primaryUrl: string,
  replicaUrls: readonly string[],
  timeoutMs = 60_000,
): Promise<void> {
  const [row] = await queryUrl<{ lsn: string }>(
    primaryUrl,
    'SELECT pg_current_wal_lsn()::text AS lsn',
  );
  const lsn = row!.lsn;
  for (const url of replicaUrls) {
    await until(
      async () =>
        (
          await queryUrl<{ ok: boolean }>(
            url,
            'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok',
            [lsn],
          )
        )[0]!.ok,
      `replay of ${lsn} on ${url}`,
      timeoutMs,
    );
  }
}

let nameCounter = 0;

/**
 * A slot/publication name unique to this process and call (slots are cluster-wide, so test files
 * running in parallel on one cluster must not share them).
 *
 * @example
 * const slot = uniqueName('slot'); // 'slot_4242_1_k3x9'
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${++nameCounter}_${Math.random().toString(36).slice(2, 6)}`;
}

/** A test database with a small pooled query helper. */
export interface PooledTestDatabase extends TestDatabase {
  /** Runs one statement on the pool and returns its rows. */
  query<R extends pg.QueryResultRow = Record<string, any>>(
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** Ends the pool (the database stays; {@link TestDatabase.drop} removes it). */
  close(): Promise<void>;
}

/**
 * {@link createTestDatabase} plus a small `pg.Pool` on it (errors of idle sessions that the server
 * terminates are ignored: tests terminate backends on purpose).
 *
 * @example
 * const db = await openPooledDatabase('orders');
 * await db.query('CREATE TABLE t (id int PRIMARY KEY)');
 */
export async function openPooledDatabase(prefix: string, max = 4): Promise<PooledTestDatabase> {
  const db = await createTestDatabase(prefix);
  const pool = new pg.Pool({ connectionString: db.url, max });
  pool.on('error', () => undefined);
  return Object.assign(db, {
    async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]> {
      return (await pool.query<R>(sql, params)).rows;
    },
    async close(): Promise<void> {
      await pool.end();
    },
  });
}

/**
 * How many sessions hold the advisory lock `key` on each server, in the order of `urls`: server
 * truth of where a `pg_advisory_lock(key)` ran (a primary and its replicas share no locks).
 *
 * @example
 * expect(await advisoryLocksHeld([db.url, ...db.replicaUrls], 42)).toEqual([1, 0, 0]);
 */
export function advisoryLocksHeld(urls: readonly string[], key: number): Promise<number[]> {
  const held = "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1";
  return Promise.all(
    urls.map(async (url) => (await queryUrl<{ n: number }>(url, held, [key]))[0]!.n),
  );
}

/** Anything that runs a statement and returns rows: a {@link PooledTestDatabase}, or a URL. */
export type Queryable = string | Pick<PooledTestDatabase, 'query'>;

function run<R extends pg.QueryResultRow>(
  on: Queryable,
  text: string,
  values: unknown[],
): Promise<R[]> {
  return typeof on === 'string' ? queryUrl<R>(on, text, values) : on.query<R>(text, values);
}

/**
 * The slot's `confirmed_flush_lsn` as a bigint (server truth; computed by the server, so no LSN
 * parsing here). Throws when the slot does not exist.
 *
 * @example
 * expect(await slotConfirmedFlush(db, slot)).toBeGreaterThanOrEqual(commitLsn);
 */
export async function slotConfirmedFlush(on: Queryable, slot: string): Promise<bigint> {
  const [row] = await run<{ lsn: string | null }>(
    on,
    "SELECT (confirmed_flush_lsn - '0/0')::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
    [slot],
  );
  if (!row) throw new Error(`slot ${slot} not found`);
  return row.lsn === null ? 0n : BigInt(row.lsn);
}

/**
 * Drops a replication slot once no process holds it (tests clean up their slots on the shared
 * cluster); a slot that is already gone is fine.
 */
export async function dropSlotWhenReleased(
  on: Queryable,
  slot: string,
  timeoutMs = 60_000,
): Promise<void> {
  await until(
    async () => {
      const rows = await run<{ active: boolean }>(
        on,
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return rows.length === 0 || !rows[0]!.active;
    },
    `slot ${slot} to be released`,
    timeoutMs,
  );
  await run(
    on,
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
}

/** What {@link logRecorder} returns. */
export interface LogRecorder<E extends { event: string }> {
  /** Every entry, in order. */
  entries: E[];
  /** Every formatted line, in order. */
  lines: string[];
  /** The logger to pass to the code under test. */
  logger: (line: string, entry: E) => void;
  /** Forgets what was recorded so far. */
  clear(): void;
  /** The entries whose event is `query` or `retry`. */
  queries(): E[];
  /** The last `query` or `retry` entry; throws when there is none. */
  last(): E;
}

/**
 * A `(line, entry)` logger that keeps everything it is given, for assertions on what was logged.
 *
 * @example
 * const log = logRecorder<RouteLogEntry>();
 * const db = withRouting(config, { logger: log.logger });
 */
export function logRecorder<E extends { event: string }>(): LogRecorder<E> {
  const entries: E[] = [];
  const lines: string[] = [];
  const queries = (): E[] => entries.filter((e) => e.event === 'query' || e.event === 'retry');
  return {
    entries,
    lines,
    logger: (line, entry) => {
      lines.push(line);
      entries.push(entry);
    },
    clear: () => {
      entries.length = 0;
      lines.length = 0;
    },
    queries,
    last: () => {
      const entry = queries().at(-1);
      if (entry === undefined) throw new Error('nothing was logged');
      return entry;
    },
  };
}

/**
 * Resolves once the child has written `marker` to its stdout (piped), or has exited.
 *
 * @example
 * const child = spawn('node', ['worker.js'], { stdio: ['ignore', 'pipe', 'inherit'] });
 * await outputSeen(child, 'started');
 */
export function outputSeen(child: ChildProcess, marker: string): Promise<void> {
  return new Promise((resolve) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes(marker)) resolve();
    });
    child.once('exit', () => resolve());
  });
}

/** Resolves once the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Runs a TypeScript file in a child Node process through tsx, with workspace packages resolved to
 * their sources (`--conditions=@koyo/source`); stdout is piped (see {@link outputSeen}), stderr
 * inherited. tsx's transform cache is off: a child SIGKILLed while tsx writes it could leave a
 * truncated entry behind.
 *
 * @example
 * const child = spawnSource(join(here, 'fixtures/worker.ts'), [db.url]);
 * await outputSeen(child, 'started');
 */
export function spawnSource(file: string, args: readonly string[] = []): ChildProcess {
  return spawn(process.execPath, ['--conditions=@koyo/source', '--import', 'tsx', file, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TSX_DISABLE_CACHE: '1' },
  });
}
