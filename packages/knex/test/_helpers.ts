import pg from 'pg';
import type { RouteLogEntry } from '../src/index.js';

/** Waits until every replica URL has replayed the primary's current WAL position. */
export async function waitForReplay(primaryUrl: string, replicaUrls: readonly string[], timeoutMs = 60_000): Promise<void> {
  const lsn = (await queryUrl<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
  for (const url of replicaUrls) {
    await until(async () => (await queryUrl<{ ok: boolean }>(url, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]))[0]!.ok, `replay of ${lsn} on ${url}`, timeoutMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (a generous budget, not a threshold). */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/** A router logger that keeps every entry. */
export function recorder(): {
  entries: RouteLogEntry[];
  logger: (line: string, entry: RouteLogEntry) => void;
  clear(): void;
  queries(): RouteLogEntry[];
} {
  const entries: RouteLogEntry[] = [];
  return {
    entries,
    logger: (_line, entry) => {
      entries.push(entry);
    },
    clear: () => {
      entries.length = 0;
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

/** Proof columns: the server's port and whether it is a standby. */
export const P = 'inet_server_port() AS port, pg_is_in_recovery() AS r';

/** Where a statement ran, from the server itself. */
export interface Proof {
  port: number;
  r: boolean;
}

/** Runs the proof columns through `k` (routed like any read). */
export async function proofOf(k: { first(...args: any[]): PromiseLike<unknown>; raw(sql: string): unknown }, extra = ''): Promise<Proof & Record<string, unknown>> {
  const row: unknown = await k.first(k.raw(`${P}${extra}`));
  return row as Proof & Record<string, unknown>;
}
