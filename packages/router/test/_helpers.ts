import pg from 'pg';
import type { PgNode } from '@koyo/testing';
import type { RouteLogEntry } from '../src/index.js';

/** Waits until every replica URL has replayed the primary's current WAL position. */
export async function waitForReplay(
  primaryUrl: string,
  replicaUrls: readonly string[],
  timeoutMs = 60_000,
): Promise<void> {
  const primary = new pg.Client(primaryUrl);
  await primary.connect();
  let lsn: string;
  try {
    lsn = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))
      .rows[0]!.lsn;
  } finally {
    await primary.end();
  }
  for (const url of replicaUrls) {
    const client = new pg.Client(url);
    await client.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok',
          [lsn],
        );
        if (rows[0]!.ok) break;
        if (Date.now() > deadline) throw new Error(`replica ${url} did not replay ${lsn}`);
        await sleep(10);
      }
    } finally {
      await client.end();
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (no fixed sleeps; the budget is generous, not a threshold). */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/** A logger that keeps every entry. */
export function recorder(): {
  entries: RouteLogEntry[];
  lines: string[];
  logger: (line: string, entry: RouteLogEntry) => void;
  last(): RouteLogEntry;
} {
  const entries: RouteLogEntry[] = [];
  const lines: string[] = [];
  return {
    entries,
    lines,
    logger: (line, entry) => {
      lines.push(line);
      entries.push(entry);
    },
    last: () => {
      const entry = entries.filter((e) => e.event === 'query' || e.event === 'retry').at(-1);
      if (entry === undefined) throw new Error('nothing was logged');
      return entry;
    },
  };
}

/** Runs one statement on a URL with a throwaway client. */
export async function queryUrl<R extends pg.QueryResultRow = Record<string, unknown>>(
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
 * Stops servers the way `pg_ctl stop -m immediate` does (SIGQUIT to each postmaster: backends
 * exit at once, no checkpoint), all at the same moment, and waits until they are gone. The next
 * `start()` runs crash recovery. (pg_ctl itself refuses to run as root, which tests may be.)
 */
export async function stopImmediately(nodes: readonly PgNode[]): Promise<void> {
  const pids = nodes.map((node) => node.pid);
  for (const pid of pids) if (pid !== undefined) process.kill(pid, 'SIGQUIT');
  await until(() => nodes.every((node) => node.pid === undefined), 'servers stopped');
}
