import { logRecorder, type LogRecorder, type TestDatabase } from '@koyo/testing/vitest';
import {
  routedKnex,
  type RouteLogEntry,
  type RoutedKnex,
  type RoutedKnexOptions,
} from '../src/index.js';

export { queryUrl, sleep, until, waitForReplay } from '@koyo/testing/vitest';

/** A router logger that keeps every entry. */
export const recorder = (): LogRecorder<RouteLogEntry> => logRecorder<RouteLogEntry>();

/** Proof columns: the server's port and whether it is a standby. */
export const P = 'inet_server_port() AS port, pg_is_in_recovery() AS r';

/** Where a statement ran, from the server itself. */
export interface Proof {
  port: number;
  r: boolean;
}

/** Runs the proof columns through `k` (routed like any read). */
export async function proofOf(
  k: { first(...args: any[]): PromiseLike<unknown>; raw(sql: string): unknown },
  extra = '',
): Promise<Proof & Record<string, unknown>> {
  const row: unknown = await k.first(k.raw(`${P}${extra}`));
  return row as Proof & Record<string, unknown>;
}

/**
 * A routed Knex over a test database's primary and replicas, with small pools (`min: 0`; the
 * primary's `max` is `primaryMax`, each replica's 2) and `options` on top.
 */
export function routedOn(
  db: Pick<TestDatabase, 'url' | 'replicaUrls'>,
  options: Partial<RoutedKnexOptions> = {},
  primaryMax = 2,
): RoutedKnex {
  return routedKnex({
    primary: { client: 'pg', connection: db.url, pool: { min: 0, max: primaryMax } },
    replicas: db.replicaUrls.map((url) => ({
      client: 'pg',
      connection: url,
      pool: { min: 0, max: 2 },
    })),
    ...options,
  });
}
