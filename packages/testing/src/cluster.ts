import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  binariesFor,
  postgresChoiceFromEnv,
  resolveBinaries,
  type PostgresBinaries,
  type PostgresChoice,
} from './binaries.js';
import { KoyoTestingError } from './errors.js';
import { PgNode } from './node.js';
import { freePort } from './ports.js';
import { resolveRunAs, run, sleep, type RunAs } from './process.js';
import { quitServersSync, removeDirSync, startWatchdog } from './reaper.js';
import { ensureTemplate, koyoTempRoot } from './template.js';

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /** Number of streaming replicas (physical hot standbys). Default 1. */
  replicas?: number;
  /** Which PostgreSQL to run. Default: `KOYO_TEST_POSTGRES`, else `auto`. */
  postgres?: PostgresChoice;
  /** Extra `postgresql.conf` settings for every node; they win over koyo's defaults. */
  settings?: Record<string, string | number | boolean>;
  /**
   * PostgreSQL 17+: set the cluster up for failover slots, as production would be. Each standby
   * streams through its own physical slot (`primary_slot_name`), with `hot_standby_feedback = on`,
   * `sync_replication_slots = on` and a `dbname` in `primary_conninfo`; the primary's
   * `synchronized_standby_slots` names those physical slots, so a logical failover slot never
   * gets ahead of a standby. A failover slot (`ensureSlot(name, { failover: true })`) is then
   * synchronised to the standbys, and after `kill()` of the primary and `promote()` of a standby
   * it is usable on the new primary. Before 17: `UNSUPPORTED`. Default false.
   */
  slotSync?: boolean;
}

/** A running throwaway cluster. */
export interface Cluster {
  /** The writable primary (`wal_level=logical`). */
  readonly primary: PgNode;
  /** Hot standbys streaming from the primary, in order. */
  readonly replicas: PgNode[];
  /** Which PostgreSQL this cluster runs. */
  readonly binaries: PostgresBinaries;
  /** The directory holding every node's data and log. Removed by {@link Cluster.stop}. */
  readonly dir: string;
  /**
   * Waits until every running replica whose replay is not paused has replayed everything the
   * primary has written so far.
   */
  syncReplicas(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes all files. Safe to call twice. */
  stop(): Promise<void>;
}

/** koyo's defaults: logical decoding on, room for slots, fast and disposable. */
const BASE_SETTINGS: Record<string, string | number | boolean> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  wal_level: 'logical',
  max_wal_senders: 20,
  max_replication_slots: 20,
  max_prepared_transactions: 20,
  max_connections: 200,
  hot_standby: 'on',
  shared_buffers: '64MB',
  fsync: 'off',
  full_page_writes: 'off',
  wal_keep_size: '1GB',
  // As production should have it (koyo doctor flags -1): a runaway slot is invalidated, not the disk filled.
  max_slot_wal_keep_size: '10GB',
  max_wal_size: '2GB',
  wal_receiver_status_interval: '1s',
  log_line_prefix: '%m [%p] ',
  log_min_messages: 'warning',
};

const live = new Set<string>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const dir of live) quitServersSync(dir);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      for (const dir of live) quitServersSync(dir);
      // Behave as if we were not here: when nobody else handles the signal, die of it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/**
 * Starts a throwaway PostgreSQL cluster: a primary with `wal_level=logical` and `replicas`
 * physical streaming standbys, on free loopback ports, with data under the OS temp dir.
 * Everything is removed on `stop()`, on process exit, on SIGINT/SIGTERM, and (by a watchdog
 * process) even when the process is SIGKILLed.
 *
 * @example
 * const cluster = await startCluster({ replicas: 2 });
 * await cluster.primary.query('CREATE TABLE t (id int primary key)');
 * await cluster.syncReplicas();
 * console.log(await cluster.replicas[0].query('SELECT count(*) FROM t'));
 * await cluster.stop();
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const replicaCount = options.replicas ?? 1;
  if (!Number.isInteger(replicaCount) || replicaCount < 0 || replicaCount > 10) {
    throw new KoyoTestingError(
      'INVALID_OPTION',
      `replicas must be an integer from 0 to 10, got ${String(options.replicas)}`,
    );
  }
  const runAs = resolveRunAs();
  const binaries = await binariesFor(
    await resolveBinaries(options.postgres ?? postgresChoiceFromEnv()),
    runAs,
  );
  const slotSync = options.slotSync === true;
  if (slotSync && binaries.major < 17) {
    throw new KoyoTestingError(
      'UNSUPPORTED',
      `slotSync needs PostgreSQL 17 or newer (failover slots, sync_replication_slots); this is ${binaries.major}. Use startCluster({ postgres: '17', slotSync: true }) or '18'.`,
    );
  }
  if (slotSync && replicaCount === 0) {
    throw new KoyoTestingError(
      'INVALID_OPTION',
      'slotSync needs at least one replica (replicas: 1): slots are synchronised to standbys.',
    );
  }
  const template = await ensureTemplate(binaries, runAs);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(
        binaries,
        template,
        runAs,
        replicaCount,
        options.settings ?? {},
        slotSync,
      );
    } catch (error) {
      // Another process may take a port between our pick and the server's bind: pick again.
      if (
        attempt < 3 &&
        /could not bind|Address already in use|could not create any TCP/i.test(
          String((error as Error).message),
        )
      )
        continue;
      throw error;
    }
  }
}

async function startOnce(
  binaries: PostgresBinaries,
  template: string,
  runAs: RunAs | undefined,
  replicaCount: number,
  settings: Record<string, string | number | boolean>,
  slotSync: boolean,
): Promise<Cluster> {
  const dir = await mkdtemp(join(await koyoTempRoot(), `cluster-pg${binaries.major}-`));
  await chmod(dir, 0o755);
  const dismissWatchdog = startWatchdog(dir);
  live.add(dir);
  installExitHooks();

  const makeNode = async (name: string, role: 'primary' | 'replica'): Promise<PgNode> => {
    const nodeDir = join(dir, name);
    await mkdir(nodeDir, { mode: 0o755 });
    if (runAs) await chown(nodeDir, runAs.uid, runAs.gid);
    return new PgNode({ name, role, dir: nodeDir, port: await freePort(), binaries, runAs });
  };

  const nodes: PgNode[] = [];
  const stopAll = async (): Promise<void> => {
    if (!live.has(dir)) return;
    await Promise.all([...nodes].reverse().map((node) => node.stop().catch(() => node.kill())));
    live.delete(dir);
    dismissWatchdog();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const primary = await makeNode('primary', 'primary');
    nodes.push(primary);
    await copyDir(template, primary.dataDir);
    await primary.configure({ ...BASE_SETTINGS, ...settings });

    const replicas: PgNode[] = [];
    for (let i = 1; i <= replicaCount; i++) {
      const replica = await makeNode(`replica${i}`, 'replica');
      // A cleanly shut down copy of the primary is a valid base backup: no pg_basebackup needed.
      await copyDir(primary.dataDir, replica.dataDir);
      await replica.makeStandbyOf(primary, `koyo_testing_replica${i}`, slotSync);
      replicas.push(replica);
      nodes.push(replica);
    }

    await primary.start();
    for (let i = 1; i <= replicaCount; i++) {
      await primary.query('SELECT pg_create_physical_replication_slot($1, true)', [
        `koyo_testing_replica${i}`,
      ]);
    }
    if (slotSync) {
      // Named only once the physical slots exist: a logical failover slot then waits for them.
      const names = replicas.map((_, i) => `koyo_testing_replica${i + 1}`).join(',');
      await primary.query(`ALTER SYSTEM SET synchronized_standby_slots = '${names}'`);
      await primary.query('SELECT pg_reload_conf()');
    }
    await Promise.all(replicas.map((replica) => replica.start()));
    await waitForStreaming(primary, replicaCount);

    const cluster: Cluster = {
      primary,
      replicas,
      binaries,
      dir,
      syncReplicas: (timeoutMs = 30_000) => syncReplicas(primary, replicas, timeoutMs),
      stop: stopAll,
    };
    return cluster;
  } catch (error) {
    await stopAll().catch(() => removeDirSync(dir));
    throw error;
  }
}

async function copyDir(from: string, to: string): Promise<void> {
  // cp -a keeps ownership and modes, which PostgreSQL checks on its data directory.
  try {
    await run('cp', ['-a', from, to], { timeoutMs: 120_000 });
  } catch (error) {
    throw new KoyoTestingError(
      'COMMAND_FAILED',
      `Could not copy ${from} to ${to}: ${String(error)}`,
      { cause: error },
    );
  }
}

async function waitForStreaming(primary: PgNode, count: number, timeoutMs = 60_000): Promise<void> {
  if (count === 0) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await primary.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'",
    );
    if ((row?.n ?? 0) >= count) return;
    if (Date.now() > deadline) {
      throw new KoyoTestingError(
        'TIMEOUT',
        `Only ${row?.n ?? 0} of ${count} replicas are streaming after ${timeoutMs} ms.`,
      );
    }
    await sleep(20);
  }
}

async function syncReplicas(primary: PgNode, replicas: PgNode[], timeoutMs: number): Promise<void> {
  const [row] = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  const target = row?.lsn;
  const deadline = Date.now() + timeoutMs;
  for (const replica of replicas) {
    if (!replica.pid || replica.role !== 'replica') continue;
    for (;;) {
      const [state] = await replica.query<{ caught_up: boolean; paused: boolean }>(
        'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up, pg_is_wal_replay_paused() AS paused',
        [target],
      );
      if (state?.caught_up || state?.paused) break;
      if (Date.now() > deadline) {
        throw new KoyoTestingError(
          'TIMEOUT',
          `${replica.name} did not replay up to ${target} within ${timeoutMs} ms.`,
        );
      }
      await sleep(10);
    }
  }
}
