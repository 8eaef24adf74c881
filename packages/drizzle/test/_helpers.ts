import type { RouteLogEntry } from '@koyo/router';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { schema } from './_schema.js';

export type Schema = typeof schema;
/** Either driver's database, typed as their common Drizzle base. */
export type AnyDb = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type DriverName = 'node-postgres' | 'postgres-js';
export const DRIVERS: readonly DriverName[] = ['node-postgres', 'postgres-js'];

/** A Drizzle database of `driver` on `url` with the test schema, and its closer. */
export function openDb(driver: DriverName, url: string, casing?: 'snake_case'): { db: AnyDb; close: () => Promise<void> } {
  const config = casing === undefined ? { schema } : { schema, casing };
  if (driver === 'node-postgres') {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    return { db: drizzlePg({ client: pool, ...config }), close: () => pool.end() };
  }
  const client = postgres(url, { max: 4, onnotice: () => undefined });
  return { db: drizzlePostgres({ client, ...config }), close: () => client.end({ timeout: 1 }) };
}

/** Opens a primary db and one db per replica URL. */
export function openNodes(driver: DriverName, url: string, replicaUrls: readonly string[]): { primary: AnyDb; replicas: AnyDb[]; close: () => Promise<void> } {
  const primary = openDb(driver, url);
  const replicas = replicaUrls.map((u) => openDb(driver, u));
  return {
    primary: primary.db,
    replicas: replicas.map((r) => r.db),
    close: async () => {
      await Promise.all([primary, ...replicas].map((n) => n.close()));
    },
  };
}

/** Rows of a node-postgres or postgres-js `execute` result. */
export function rowsOf<R>(result: unknown): R[] {
  return (Array.isArray(result) ? result : (result as { rows: R[] }).rows) as R[];
}

/** A logger that keeps every entry. */
export function recorder(): { entries: RouteLogEntry[]; logger: (line: string, entry: RouteLogEntry) => void; queries(): RouteLogEntry[] } {
  const entries: RouteLogEntry[] = [];
  return {
    entries,
    logger: (_line, entry) => {
      entries.push(entry);
    },
    queries: () => entries.filter((e) => e.event === 'query' || e.event === 'retry'),
  };
}

/** Runs one statement on a URL with a throwaway client. */
export async function queryUrl<R extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (a generous budget, not an assertion). */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/** Waits until every replica URL has replayed the primary's current WAL position. */
export async function waitForReplay(primaryUrl: string, replicaUrls: readonly string[]): Promise<void> {
  const [{ lsn }] = (await queryUrl<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
  for (const url of replicaUrls) {
    await until(async () => (await queryUrl<{ ok: boolean }>(url, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]))[0]!.ok, `replay of ${lsn} on ${url}`);
  }
}
