import { expect } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import type { PgNode } from './node.js';
import { queryUrl, until } from './test-helpers.js';

/**
 * Starts a primary + 2 replicas for a failover test: replica1 is a synchronous standby, so every
 * commit the primary acknowledged is on it when it is promoted (with asynchronous replication,
 * PostgreSQL itself loses the last commits with the old primary, whatever a router does). The
 * table `w (id int PRIMARY KEY)` exists on every node. Stop it with `cluster.stop()`.
 *
 * @example
 * const cluster = await startFailoverCluster();
 * const w = runWorkload(insertReturningPort, countRows);
 */
export async function startFailoverCluster(): Promise<Cluster> {
  const c = await startCluster({ replicas: 2 });
  await c.primary.query("ALTER SYSTEM SET synchronous_standby_names = 'replica1'");
  await c.primary.query('SELECT pg_reload_conf()');
  await until(async () => {
    const rows = await c.primary.query(
      "SELECT 1 FROM pg_stat_replication WHERE application_name = 'replica1' AND sync_state = 'sync'",
    );
    return rows.length === 1;
  }, 'replica1 is a synchronous standby');
  await c.primary.query('CREATE TABLE w (id int PRIMARY KEY)');
  await c.syncReplicas();
  return c;
}

/**
 * Router options of a failover test on {@link startFailoverCluster}'s nodes: follow the primary
 * (`discover`), wait up to a minute for a new one, check the nodes every 200 ms.
 *
 * @example
 * const pool = createRoutedPool({ primary: c.primary.url, replicas: c.replicas.map((r) => r.url), ...FOLLOW_OPTIONS });
 */
export const FOLLOW_OPTIONS = Object.freeze({
  discover: true,
  failoverMs: 60_000,
  probeIntervalMs: 200,
} as const);

/**
 * What `router.discover()` finds on {@link startFailoverCluster}'s nodes before the failover,
 * with the primary and the replicas given in cluster order.
 */
export const DISCOVERED = Object.freeze({ primary: 'node1', replicas: ['node2', 'node3'] });

/** What a {@link runWorkload} saw, filled in while it runs. */
export interface FailoverWorkload {
  /** Acknowledged writes: id, the port of the server that took it, when the ack arrived. */
  readonly acked: { id: number; port: number; at: number }[];
  readonly failedWrites: { id: number; error: unknown }[];
  readonly reads: { at: number }[];
  readonly failedReads: unknown[];
  /** Stops the writer and the readers and waits for their last statement. */
  stop(): Promise<void>;
}

/**
 * One writer (sequential `write(id)` calls, ids from 1, each returning the port of the server
 * that took it) and `readers` readers (`read()` in a loop), until `stop()`. Both are statements
 * against a server: each call must wait for I/O (a function that settles in microtasks alone
 * would keep the event loop from ever running timers).
 *
 * @example
 * const w = runWorkload(
 *   async (id) => (await pool.query('INSERT INTO w (id) VALUES ($1) RETURNING inet_server_port() AS port', [id])).rows[0].port,
 *   () => pool.query('SELECT count(*) FROM w'),
 * );
 */
export function runWorkload(
  write: (id: number) => Promise<number>,
  read: () => PromiseLike<unknown>,
  readers = 4,
): FailoverWorkload {
  let stopped = false;
  const acked: FailoverWorkload['acked'] = [];
  const failedWrites: FailoverWorkload['failedWrites'] = [];
  const reads: FailoverWorkload['reads'] = [];
  const failedReads: unknown[] = [];
  const writer = (async () => {
    for (let id = 1; !stopped; id++) {
      try {
        const port = await write(id);
        acked.push({ id, port, at: Date.now() });
      } catch (error) {
        failedWrites.push({ id, error });
      }
    }
  })();
  const loops = Array.from({ length: readers }, async () => {
    while (!stopped) {
      try {
        await read();
        reads.push({ at: Date.now() });
      } catch (error) {
        failedReads.push(error);
      }
    }
  });
  return {
    acked,
    failedWrites,
    reads,
    failedReads,
    stop: async () => {
      stopped = true;
      await Promise.all([writer, ...loops]);
    },
  };
}

/** When the primary died and its successor took over, from {@link failOver}. */
export interface FailoverTimes {
  /** The promoted node (replica1). */
  readonly promoted: PgNode;
  /** Just before the primary was stopped. */
  readonly diedAt: number;
  /** When the primary was gone. */
  readonly goneAt: number;
  /** When `promote()` of replica1 returned. */
  readonly promotedAt: number;
}

/**
 * Fails the cluster over under a running workload: waits for 20 acknowledged writes, stops the
 * primary (`kill`: SIGKILL, or `stop`: a clean shutdown), promotes replica1, waits for 20 writes
 * acknowledged by it, then stops the workload.
 *
 * @example
 * const times = await failOver(cluster, w, 'kill');
 */
export async function failOver(
  cluster: Cluster,
  workload: FailoverWorkload,
  how: 'kill' | 'stop' = 'kill',
): Promise<FailoverTimes> {
  await until(() => workload.acked.length >= 20, '20 writes before the failover');
  const diedAt = Date.now();
  await (how === 'kill' ? cluster.primary.kill() : cluster.primary.stop());
  const goneAt = Date.now();
  const promoted = cluster.replicas[0]!;
  await promoted.promote();
  const promotedAt = Date.now();
  await until(
    () => workload.acked.filter((a) => a.port === promoted.port).length >= 20,
    '20 writes on the promoted primary',
  );
  await workload.stop();
  return { promoted, diedAt, goneAt, promotedAt };
}

/**
 * Checks a stopped workload against the promoted node's data and prints the failover times: no
 * read failed and reads went on after the death; writes resumed on the promoted node; every
 * acknowledged write is on it (server truth); a write that failed is not an instance of
 * `routerError` (it failed because the old primary went away while it ran, never for lack of a
 * primary).
 *
 * @example
 * await verifyFailover(w, times, { label: 'pg, kill', routerError: KoyoRouterError });
 */
export async function verifyFailover(
  workload: FailoverWorkload,
  times: FailoverTimes,
  options: { label: string; routerError: abstract new (...args: never[]) => Error },
): Promise<void> {
  const { promoted, diedAt, goneAt, promotedAt } = times;
  expect(workload.failedReads).toEqual([]);
  expect(workload.reads.filter((r) => r.at > diedAt).length).toBeGreaterThan(0);
  const onNew = workload.acked.filter((a) => a.port === promoted.port);
  expect(onNew.length).toBeGreaterThan(0);
  const rows = await queryUrl<{ id: number }>(promoted.url, 'SELECT id FROM w');
  const present = new Set(rows.map((r) => r.id));
  expect(workload.acked.filter((a) => !present.has(a.id))).toEqual([]);
  for (const failed of workload.failedWrites)
    expect(failed.error instanceof options.routerError, String(failed.error)).toBe(false);
  console.log(
    `[failover ${options.label}] from the primary's death: down ${goneAt - diedAt} ms, promote() returned ${promotedAt - diedAt} ms, ` +
      `first routed write acknowledged by the new primary ${onNew[0]!.at - diedAt} ms; ` +
      `${workload.acked.length} writes acknowledged, ${workload.failedWrites.length} failed (in flight at the death), ${workload.reads.length} reads, 0 failed`,
  );
}
