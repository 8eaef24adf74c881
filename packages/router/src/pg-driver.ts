import pg from 'pg';
import { probeAndRun, type RouterDriver } from './driver.js';

/** The arguments of one `pg` query call (text or config, then values), without a callback. */
export type PgQueryArgs = [unknown, ...unknown[]];

type QueryFn = (...args: unknown[]) => Promise<unknown>;

/** @internal where a pinned client keeps its own `query` while the routed one is installed. */
export const ORIGINAL_QUERY = Symbol('koyo.router.originalQuery');

/** Runs a query call with the client's own `query` (not the routed one a pinned client carries). */
function runOwn(target: pg.PoolClient | pg.Pool, args: PgQueryArgs): Promise<unknown> {
  const original = (target as unknown as Record<symbol, QueryFn | undefined>)[ORIGINAL_QUERY];
  if (original !== undefined) return original(...args);
  return (target.query as QueryFn).apply(target, args);
}

/** First column of the first row as text, or null. */
async function firstValue(run: Promise<unknown>): Promise<string | null> {
  const result = (await run) as pg.QueryResult;
  const value = (result.rows[0] as unknown[] | undefined)?.[0];
  return value === null || value === undefined ? null : String(value);
}

/**
 * Whether a query can share a pipelined connection: not a custom submittable (cursor, stream)
 * and not a `rows` portal, which node-postgres refuses in pipeline mode.
 */
function pipelinable(first: unknown): boolean {
  if (typeof first === 'string') return true;
  if (first === null || typeof first !== 'object') return false;
  const config = first as { submit?: unknown; rows?: unknown };
  return typeof config.submit !== 'function' && config.rows === undefined;
}

/**
 * Runs a probe and a statement on one client of `pool` in one round trip.
 *
 * Why this touches the client: node-postgres pipelines only when a client is created with
 * `{ pipeline: true }`, an option fixed for the client's life, and the routed pool's clients are
 * ordinary ones (the app's cursors and `rows` portals do not work on pipelined ones). So the
 * client, checked out for just these two queries, has its `pipeline` flag on while they are in
 * flight and off again once both settled (pg reads the flag on every send and answer). A pg
 * without pipeline mode (before 8.22) runs the two one after the other on the same client.
 */
async function pipelined(
  pool: pg.Pool,
  probeSql: string,
  args: PgQueryArgs,
  order: 'probe-first' | 'probe-last',
): Promise<{ probed: string | null | undefined; result: unknown }> {
  // An app-built query object (a cursor, a stream, a `pg.Query`) is not a promise and cannot share
  // the round trip: it runs alone, and the core asks for the position (or checks again) itself.
  if (!pipelinable(args[0])) return { probed: undefined, result: await runOwn(pool, args) };
  const client = await pool.connect();
  const probe = { text: probeSql, rowMode: 'array' };
  const flag = client as unknown as { pipeline?: boolean };
  const pipelining = typeof flag.pipeline === 'boolean';
  const pipelineBefore = flag.pipeline === true;
  let broken: unknown;
  try {
    if (pipelining) flag.pipeline = true;
    const query = client.query.bind(client) as QueryFn;
    return await probeAndRun(
      () => firstValue(query(probe)),
      () => query(...args),
      order,
      !pipelining,
    );
  } catch (error) {
    // A server error leaves the connection usable; anything else (a socket error) may not.
    broken = error instanceof pg.DatabaseError ? undefined : error;
    throw error;
  } finally {
    if (pipelining) flag.pipeline = pipelineBefore;
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * node-postgres's side of the driver contract: a statement is a query call's arguments, a node a
 * `pg.Pool`, a pinned connection a checked-out `pg.PoolClient`.
 */
export const pgDriver: RouterDriver<pg.Pool, pg.PoolClient, PgQueryArgs, unknown> = {
  run: runOwn,
  probe: (pool, sql) => firstValue(pool.query({ text: sql, rowMode: 'array' })),
  pin: (pool) => pool.connect(),
  unpin: (client, broken) => client.release(broken instanceof Error ? broken : undefined),
  pipeline: pipelined,
};

type Callback = (error: Error | null, result?: unknown) => void;

/**
 * @internal one `query(...)` call on a routed pool or pinned client, in any of pg's call styles:
 * a call with a statement text goes to `routed`, anything else (a submittable such as a cursor)
 * to `direct` unchanged; a trailing callback gets the routed result.
 */
export function routeQueryCall(
  args: unknown[],
  direct: (...a: unknown[]) => unknown,
  routed: (text: string, args: PgQueryArgs) => Promise<unknown>,
): unknown {
  const callback =
    typeof args[args.length - 1] === 'function' ? (args.pop() as Callback) : undefined;
  const first = args[0] as { text?: unknown } | string | undefined;
  const text =
    typeof first === 'string' ? first : typeof first?.text === 'string' ? first.text : undefined;
  if (text === undefined) return direct(...args, ...(callback ? [callback] : []));
  const promise = routed(text, args as PgQueryArgs);
  if (callback === undefined) return promise;
  promise.then(
    (result) => callback(null, result),
    (error: Error) => callback(error),
  );
  return undefined;
}
