import type { PgNode } from '@koyo/testing';
import { logRecorder, until, type LogRecorder } from '@koyo/testing/vitest';
import type { RouteLogEntry } from '../src/index.js';
import { createRoutedSql, type RoutedSql, type RoutedSqlOptions } from '../src/postgres.js';

export { queryUrl, sleep, until, waitForReplay } from '@koyo/testing/vitest';

/** A logger that keeps every entry. */
export const recorder = (): LogRecorder<RouteLogEntry> => logRecorder<RouteLogEntry>();

/**
 * A routed postgres.js client on a test database's primary and replicas that logs into a new
 * {@link recorder} and drops notices; `options` are added last.
 */
export function recordedSql(
  db: { url: string; replicaUrls: string[] },
  options: Partial<RoutedSqlOptions> = {},
): { sql: RoutedSql; rec: LogRecorder<RouteLogEntry> } {
  const rec = recorder();
  const sql = createRoutedSql({
    primary: db.url,
    replicas: db.replicaUrls,
    logger: rec.logger,
    postgres: { onnotice: () => undefined },
    ...options,
  });
  return { sql, rec };
}

/**
 * Stops servers the way `pg_ctl stop -m immediate` does (SIGQUIT to each postmaster: backends
 * exit at once, no checkpoint), all at the same moment, and waits until they are gone. The next
 * `start()` runs crash recovery. (pg_ctl itself refuses to run as root, which tests may be.)
 */
export async function stopImmediately(nodes: readonly PgNode[]): Promise<void> {
  const pids = nodes.map((node) => node.pid);
  for (const pid of pids) if (pid !== undefined) process.kill(pid, 'SIGQUIT');
  await until(() => nodes.every((node) => node.pid === undefined), 'servers stopped');
}
