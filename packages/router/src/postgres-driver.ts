import type postgres from 'postgres';
import { probeAndRun, type RouterDriver } from './driver.js';

/** @internal any postgres.js `sql`. */
export type AnySql = postgres.Sql<any>;
/** @internal where a query is built: a node's `sql`, a reserved connection or a transaction. */
export type Target = AnySql | postgres.TransactionSql<any> | postgres.ReservedSql<any>;
/** @internal a statement: builds the postgres.js query on a target. */
export type PostgresStatement = (target: Target) => postgres.PendingQuery<any>;

/** The replicas' sql that the router created (see {@link fetchTypesOnce}). */
export const ownedReplicaSqls = new WeakSet<AnySql>();
/** `int4[]`: postgres.js has a parser for it only once it fetched the array types. */
const INT4_ARRAY_OID = 1007;

/**
 * Once a replica's sql has fetched the array types (on its first connection), later connections
 * skip that fetch. postgres.js runs it on every new connection and drops its promise, so a
 * replica that goes down while a connection starts up raises an unhandled rejection
 * (porsager/postgres#1192, #1223), which ends a Node process by default. The types fetched
 * first stay in use: they are the same for every connection to the server.
 */
export function fetchTypesOnce(sql: AnySql): void {
  if (!ownedReplicaSqls.has(sql)) return;
  const options = sql.options;
  if (options.fetch_types && options.parsers[INT4_ARRAY_OID] !== undefined)
    options.fetch_types = false;
}

/** First column of the first row as text, or null. */
async function firstValue(query: postgres.PendingQuery<any>): Promise<string | null> {
  const rows = (await query.values()) as unknown as unknown[][];
  const value = rows[0]?.[0];
  return value === null || value === undefined ? null : String(value);
}

/**
 * Runs a probe and a statement on one reserved connection: postgres.js writes queries of a
 * connection back to back without waiting for answers, so the two share one round trip.
 */
async function pipelined(
  sql: AnySql,
  probeSql: string,
  build: PostgresStatement,
  order: 'probe-first' | 'probe-last',
): Promise<{ probed: string | null | undefined; result: unknown }> {
  const reserved = await sql.reserve();
  try {
    return await probeAndRun(
      () => firstValue(reserved.unsafe(probeSql)),
      () => Promise.resolve(build(reserved)),
      order,
    );
  } finally {
    reserved.release();
  }
}

/**
 * postgres.js's side of the driver contract: a node is an `sql`, a statement builds its query on
 * a target, a pinned connection is a reserved one.
 */
export const postgresDriver: RouterDriver<
  AnySql,
  postgres.ReservedSql<any> | postgres.TransactionSql<any>,
  PostgresStatement,
  unknown
> = {
  run: (target, build) => Promise.resolve(build(target)),
  probe: (sql, text) => {
    fetchTypesOnce(sql);
    return firstValue(sql.unsafe(text));
  },
  pin: (sql) => sql.reserve(),
  unpin: (connection) => (connection as postgres.ReservedSql<any>).release(),
  pipeline: pipelined,
};
