import { logRecorder, type LogRecorder } from '@koyo/testing/vitest';
import type { RouteLogEntry } from '../src/index.js';

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
