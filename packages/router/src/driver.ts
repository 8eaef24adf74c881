/**
 * The driver contract: the little a binding (pg, postgres.js, Knex, Drizzle...) tells the routing
 * core about its driver. Everything that decides (which node, retries, probes, pinning a
 * transaction, read-your-writes) lives once in the core and uses only this.
 */

/** One database node as an adapter hands it to {@link createRouter}. */
export interface RouterNode<N> {
  /** Name used in logs, reasons and counters, e.g. `primary`, `replica1`. */
  readonly name: string;
  /** The adapter's handle for this node (a `pg.Pool`, a postgres.js `sql`, a Knex client...). */
  readonly handle: N;
  /** Weight for the `weighted` strategy (replicas only). Default 1. */
  readonly weight?: number;
  /**
   * Runs one parameterless statement on this node and returns the first column of the first row
   * as text (or null). Used for health and lag probes only.
   */
  probe(sql: string): Promise<string | null>;
  /**
   * True when the adapter's `run` callbacks honour a {@link PositionCheck} (they run its probe on
   * the statement's connection, in the same round trip). Set by {@link driverNode}.
   */
  readonly pipelines?: boolean;
}

/**
 * What each binding implements for its driver: run a statement on a target, probe a node, pin and
 * unpin a connection for a transaction or session. `N` is the node handle (a pool, an `sql`), `C` a
 * pinned connection, `S` the driver's statement (its query arguments), `R` its result.
 *
 * @example
 * const driver: RouterDriver<pg.Pool, pg.PoolClient, unknown[], pg.QueryResult> = {
 *   run: (target, args) => target.query(...args),
 *   probe: async (pool, sql) => String((await pool.query({ text: sql, rowMode: 'array' })).rows[0]?.[0] ?? '') || null,
 *   pin: (pool) => pool.connect(),
 *   unpin: (client, broken) => client.release(broken instanceof Error ? broken : undefined),
 * };
 */
export interface RouterDriver<N, C, S, R> {
  /** Runs `statement` on a node's handle or on a pinned connection. */
  run(target: N | C, statement: S): Promise<R>;
  /** Runs a parameterless statement on a node and returns the first column of the first row as text, or null. */
  probe(handle: N, sql: string): Promise<string | null>;
  /** Checks out a connection of a node for a transaction or session. */
  pin(handle: N): Promise<C>;
  /**
   * Gives back a connection from {@link RouterDriver.pin}; `broken` when it must not be reused. A
   * driver whose pool gives connections back asynchronously (Knex) returns that promise.
   */
  unpin(connection: C, broken?: unknown): void | Promise<void>;
  /**
   * Optional, for drivers that can pipeline: on one connection of `handle`, runs `probeSql` and
   * `statement` back to back in one round trip (`probe-first`: the probe, then the statement;
   * `probe-last`: the statement, committed, then the probe). The router uses it to learn a write's
   * WAL position and to check a replica's replay position together with a read. `probed` is
   * undefined when the probe failed (the router then asks separately, or does not trust the read).
   */
  pipeline?(
    handle: N,
    probeSql: string,
    statement: S,
    order: 'probe-first' | 'probe-last',
  ): Promise<{ probed: string | null | undefined; result: R }>;
}

/**
 * Builds the {@link RouterNode} of one node handle from a binding's {@link RouterDriver}: probes go
 * through the driver, and a driver that pipelines gets the core's one-round-trip paths.
 *
 * @example
 * const node = driverNode(driver, 'replica1', replicaPool);
 */
export function driverNode<N, C, S, R>(
  driver: RouterDriver<N, C, S, R>,
  name: string,
  handle: N,
  weight?: number,
): RouterNode<N> {
  return {
    name,
    handle,
    ...(weight === undefined ? {} : { weight }),
    probe: (sql) => driver.probe(handle, sql),
    ...(driver.pipeline === undefined ? {} : { pipelines: true }),
  };
}

/**
 * A probe the core asks a binding to run on the same connection as a statement (see
 * {@link RouterDriver.pipeline}); the binding stores the probe's answer in `probed`.
 */
export interface PositionCheck {
  /** The probe (`SELECT pg_current_wal_insert_lsn()::text` after a write, the replay position before a read). */
  readonly sql: string;
  /** `probe-first`: the probe, then the statement; `probe-last`: the statement, then the probe. */
  readonly order: 'probe-first' | 'probe-last';
  /** The probe's answer, set by the binding; undefined when it did not run it. */
  probed: string | null | undefined;
}

/**
 * Runs `statement` where a decision says, through a binding's {@link RouterDriver}: on the pinned
 * transaction connection, or on the node's handle (pipelined with `check` when the core asked for
 * one and the driver can).
 *
 * @example
 * router.execute(text, (d, check) => runDecided(driver, d, args, check));
 */
export function runDecided<N, C, S, R>(
  driver: RouterDriver<N, C, S, R>,
  decision: {
    readonly target: string;
    readonly handle: N | undefined;
    readonly transaction: unknown;
  },
  statement: S,
  check: PositionCheck | undefined,
): Promise<R> {
  if (decision.target === 'transaction') return driver.run(decision.transaction as C, statement);
  const handle = decision.handle as N;
  if (check === undefined || driver.pipeline === undefined) return driver.run(handle, statement);
  return driver.pipeline(handle, check.sql, statement, check.order).then(({ probed, result }) => {
    check.probed = probed;
    return result;
  });
}

/**
 * @internal the probe and the statement of a {@link RouterDriver.pipeline} call, started in
 * `order` (the second one only after the first settled when `sequential`, for a connection that
 * cannot pipeline) and settled: the statement's error is thrown, a failed probe gives `undefined`.
 */
export async function probeAndRun<R>(
  probe: () => Promise<string | null>,
  statement: () => Promise<R>,
  order: 'probe-first' | 'probe-last',
  sequential = false,
): Promise<{ probed: string | null | undefined; result: R }> {
  const probeFirst = order === 'probe-first';
  const first: Promise<unknown> = probeFirst ? probe() : statement();
  if (sequential) await first.catch(() => undefined);
  const second: Promise<unknown> = probeFirst ? statement() : probe();
  const [a, b] = await Promise.allSettled([first, second]);
  const probed = probeFirst ? a : b;
  const result = probeFirst ? b : a;
  if (result.status === 'rejected') throw result.reason;
  return {
    probed: probed.status === 'fulfilled' ? (probed.value as string | null) : undefined,
    result: result.value as R,
  };
}

/** A node-postgres pool or client, as far as a probe needs it. */
export interface PgProbeTarget {
  query(config: { text: string; rowMode: 'array' }): Promise<{ rows: unknown[] }>;
}

/** A postgres.js `sql` (or reserved connection), as far as a probe needs it. */
export interface PostgresProbeTarget {
  unsafe(text: string): { values(): Promise<unknown> };
}

/** The answer of a probe: the first column of the first row as text, or null. */
function firstCell(rows: unknown): string | null {
  const value = ((rows as unknown[])[0] as unknown[] | undefined)?.[0];
  return value === null || value === undefined ? null : String(value);
}

/**
 * {@link RouterDriver.probe} on a node-postgres pool or client: for bindings whose nodes run on
 * node-postgres (Knex, Drizzle's `node-postgres`), without importing `pg` here.
 *
 * @example
 * const driver = { ...rest, probe: (node, sql) => probePg(poolOf(node), sql) };
 */
export async function probePg(target: PgProbeTarget, sql: string): Promise<string | null> {
  return firstCell((await target.query({ text: sql, rowMode: 'array' })).rows);
}

/**
 * {@link RouterDriver.probe} on a postgres.js `sql`: for bindings whose nodes run on postgres.js
 * (Drizzle's `postgres-js`), without importing `postgres` here.
 *
 * @example
 * const driver = { ...rest, probe: (node, sql) => probePostgres(sqlOf(node), sql) };
 */
export async function probePostgres(
  target: PostgresProbeTarget,
  sql: string,
): Promise<string | null> {
  return firstCell(await target.unsafe(sql).values());
}
