import type { RouteLogEntry } from '@koyo/router';
import {
  createTestDatabase,
  logRecorder,
  queryUrl,
  waitForReplay,
  type LogRecorder,
} from '@koyo/testing/vitest';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { withRouting, type RoutedDatabase } from '../src/index.js';
import { DDL, schema } from './_schema.js';

export type Schema = typeof schema;
/** Either driver's database, typed as their common Drizzle base. */
export type AnyDb = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type DriverName = 'node-postgres' | 'postgres-js';
export const DRIVERS: readonly DriverName[] = ['node-postgres', 'postgres-js'];

/** A Drizzle database of `driver` on `url` with the test schema, and its closer. */
export function openDb(
  driver: DriverName,
  url: string,
  casing?: 'snake_case',
): { db: AnyDb; close: () => Promise<void> } {
  const config = casing === undefined ? { schema } : { schema, casing };
  if (driver === 'node-postgres') {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    return { db: drizzlePg({ client: pool, ...config }), close: () => pool.end() };
  }
  const client = postgres(url, { max: 4, onnotice: () => undefined });
  // postgres.js fetches the array types on every new connection and drops that promise: a node
  // killed while a connection starts up raises an unhandled rejection (porsager/postgres#1192).
  // Fetch them once now and skip the fetch on later connections, as the router does for the
  // replicas' sql it creates (the types are the same on every connection to a node).
  client`SELECT 1`.then(
    () => {
      if (client.options.parsers[1007] !== undefined) client.options.fetch_types = false;
    },
    () => undefined,
  );
  return { db: drizzlePostgres({ client, ...config }), close: () => client.end({ timeout: 1 }) };
}

/** A primary db and one db per replica URL (see {@link openNodes}). */
export interface Nodes {
  primary: AnyDb;
  replicas: AnyDb[];
  close: () => Promise<void>;
}

/** Opens a primary db and one db per replica URL. */
export function openNodes(driver: DriverName, url: string, replicaUrls: readonly string[]): Nodes {
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

/** A fresh test database with the test schema (replayed on the replicas) and `driver`'s nodes on it. */
export async function openSchemaNodes(driver: DriverName, prefix: string): Promise<Nodes> {
  const test = await createTestDatabase(`${prefix}_${driver.replace('-', '_')}`);
  await queryUrl(test.url, DDL);
  await waitForReplay(test.url, test.replicaUrls);
  return openNodes(driver, test.url, test.replicaUrls);
}

/** Closes a routed database and its nodes (either is missing when `beforeAll` failed early). */
export async function closeRouted(
  db: RoutedDatabase<AnyDb> | undefined,
  nodes: { close: () => Promise<void> } | undefined,
): Promise<void> {
  db?.$router.close();
  await nodes?.close();
}

/** A routed database over a fresh schema database and its nodes (see {@link useRoutedSchemaDb}). */
export interface RoutedSchemaDb {
  nodes: Nodes;
  db: RoutedDatabase<AnyDb>;
}

/**
 * Registers the hooks of a suite over a fresh test database with the test schema: before all, its
 * `driver` nodes and a routed database over them (logging to `log`) are handed to `opened`; after
 * all, both are closed.
 */
export function useRoutedSchemaDb(
  driver: DriverName,
  prefix: string,
  log: LogRecorder<RouteLogEntry>,
  opened: (routed: RoutedSchemaDb) => void,
): void {
  let routed: RoutedSchemaDb | undefined;
  beforeAll(async () => {
    const nodes = await openSchemaNodes(driver, prefix);
    routed = { nodes, db: withRouting(nodes.primary, nodes.replicas, { logger: log.logger }) };
    opened(routed);
  });
  afterAll(() => closeRouted(routed?.db, routed?.nodes));
}

/** Rows of a node-postgres or postgres-js `execute` result. */
export function rowsOf<R>(result: unknown): R[] {
  return (Array.isArray(result) ? result : (result as { rows: R[] }).rows) as R[];
}

export { queryUrl, sleep, until, waitForReplay } from '@koyo/testing/vitest';

/** A logger that keeps every entry. */
export const recorder = (): LogRecorder<RouteLogEntry> => logRecorder<RouteLogEntry>();
