import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { inject } from 'vitest';
import type { ViteUserConfig } from 'vitest/config';
import { execFileSync } from 'node:child_process';
import { SUPPORTED_MAJORS, findSystemBinDir } from './binaries.js';
import { KoyoTestingError } from './errors.js';
import { TEST_CLUSTER_KEY, type TestClusterInfo } from './shared-cluster.js';

export type { TestClusterInfo, NodeInfo } from './shared-cluster.js';

/** Options of {@link defineKoyoVitestConfig}. */
export interface KoyoVitestOptions {
  /** Replicas in the shared cluster of each PostgreSQL project. Default 2. */
  replicas?: number;
  /** Test and hook timeout for PostgreSQL tests. Default 120 s (a budget, not a threshold). */
  timeoutMs?: number;
  /** Override the flavours to run; default: `KOYO_TEST_POSTGRES` if set, else system (if present) and embedded. */
  flavours?: string[];
  /**
   * This package's part of the compatibility suite: test files (globs under the package) that
   * also run on the other supported majors (see {@link compatibilityMajors}).
   */
  compat?: string[];
  /** Override the majors the compatibility files run on; default {@link compatibilityMajors}. */
  compatMajors?: string[];
}

/** The flavours a run covers: the one in KOYO_TEST_POSTGRES, else the machine's (if any) and embedded. */
export function testFlavours(env: NodeJS.ProcessEnv = process.env): string[] {
  const chosen = env.KOYO_TEST_POSTGRES?.trim();
  if (chosen && chosen !== 'all') return [chosen];
  return findSystemBinDir() ? ['system', 'embedded'] : ['embedded'];
}

function systemMajor(): string | undefined {
  const dir = findSystemBinDir();
  if (!dir) return undefined;
  try {
    const out = execFileSync(join(dir, 'postgres'), ['--version'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    return /\(PostgreSQL\)\s+(\d+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * The majors the compatibility suite runs on besides the full-suite flavours: every supported
 * major that is neither the machine's nor embedded 18, when `KOYO_TEST_POSTGRES=all` or in CI
 * (`CI=true`); none otherwise (local runs stay quick), or when one flavour is chosen.
 */
export function compatibilityMajors(env: NodeJS.ProcessEnv = process.env): string[] {
  const chosen = env.KOYO_TEST_POSTGRES?.trim();
  const wanted = chosen === 'all' || (!chosen && (env.CI === 'true' || env.CI === '1'));
  if (!wanted) return [];
  const covered = new Set(['18', systemMajor()]);
  return SUPPORTED_MAJORS.filter((major) => !covered.has(major));
}

/**
 * A complete Vitest config for a koyo-style package, in one line:
 * - project `unit`: `src/**\/*.test.ts`, no database;
 * - one project per PostgreSQL flavour (`pg-system`, `pg-embedded`): `test/**\/*.test.ts`, with a
 *   shared cluster (primary + replicas) started by a global setup and read with {@link testCluster};
 * - with `compat`, one project per other supported major (`pg-14`, `pg-16`, `pg-17`, in CI or with
 *   `KOYO_TEST_POSTGRES=all`) running only those files;
 * - the `@koyo/source` export condition, so workspace packages run from source;
 * - a JSON report in `.vitest-report.json` for CI's pass/fail line.
 *
 * @example
 * // vitest.config.ts
 * import { defineKoyoVitestConfig } from '@koyo/testing/vitest';
 * export default defineKoyoVitestConfig(import.meta.dirname);
 */
export function defineKoyoVitestConfig(
  packageDir: string,
  options: KoyoVitestOptions = {},
): ViteUserConfig {
  const here = fileURLToPath(import.meta.url);
  const globalSetup = here.replace(/vitest\.(ts|js)$/, 'global-setup.$1');
  const timeout = options.timeoutMs ?? 120_000;
  // Vite's default server conditions, with ours first so workspace packages resolve to src/.
  const conditions = ['@koyo/source', 'module', 'node', 'development|production'];
  const pgProject = (flavour: string, include: string[]) => ({
    extends: true as const,
    test: {
      name: `pg-${flavour.includes('/') ? 'custom' : flavour}`,
      include,
      env: { KOYO_TEST_POSTGRES: flavour },
      globalSetup: [globalSetup],
      provide: { koyoTestReplicas: options.replicas ?? 2 },
      testTimeout: timeout,
      hookTimeout: timeout,
    },
  });
  const pgProjects = (options.flavours ?? testFlavours()).map((flavour) =>
    pgProject(flavour, ['test/**/*.test.ts']),
  );
  const compat = options.compat ?? [];
  const compatProjects = compat.length
    ? (options.compatMajors ?? compatibilityMajors()).map((major) => pgProject(major, compat))
    : [];
  return {
    root: packageDir,
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: conditions } },
    test: {
      reporters: ['default', ['json', { outputFile: join(packageDir, '.vitest-report.json') }]],
      passWithNoTests: true,
      projects: [
        { extends: true as const, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
        ...pgProjects,
        ...compatProjects,
      ],
    },
  };
}

/** The shared cluster of this test project (from the global setup). */
export function testCluster(): TestClusterInfo {
  const info = inject(TEST_CLUSTER_KEY);
  if (!info) {
    throw new KoyoTestingError(
      'NO_TEST_CLUSTER',
      'No shared test cluster: run this file in a project made by defineKoyoVitestConfig (test/**/*.test.ts), or use startCluster().',
    );
  }
  return info;
}

/** A database created for one test file, on the primary and visible on every replica. */
export interface TestDatabase {
  name: string;
  /** Connection string of the database on the primary. */
  url: string;
  /** Connection strings of the database on each replica. */
  replicaUrls: string[];
  cluster: TestClusterInfo;
  /** Drops the database (terminating its sessions). */
  drop(): Promise<void>;
}

let counter = 0;

/**
 * Creates a fresh database on the shared cluster's primary and waits until every replica has
 * it, so each test file works in its own namespace and files can run in parallel.
 *
 * @example
 * const db = await createTestDatabase('orders');
 * const client = new pg.Client(db.url);
 */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const cluster = testCluster();
  const safe = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  const name = `${safe}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 7)}`;
  const admin = new pg.Client(cluster.primary.url);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const withDb = (url: string): string => url.replace(/\/postgres$/, `/${name}`);
  for (const replica of cluster.replicas) await waitForDatabase(withDb(replica.url));
  return {
    name,
    url: withDb(cluster.primary.url),
    replicaUrls: cluster.replicas.map((replica) => withDb(replica.url)),
    cluster,
    drop: async () => {
      const client = new pg.Client(cluster.primary.url);
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function waitForDatabase(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client(url);
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

export {
  advisoryLocksHeld,
  sleep,
  until,
  queryUrl,
  waitForReplay,
  uniqueName,
  openPooledDatabase,
  slotConfirmedFlush,
  dropSlotWhenReleased,
  logRecorder,
  outputSeen,
  spawnSource,
  exited,
  type PooledTestDatabase,
  type Queryable,
  type LogRecorder,
} from './test-helpers.js';
export {
  DISCOVERED,
  FOLLOW_OPTIONS,
  startFailoverCluster,
  runWorkload,
  failOver,
  verifyFailover,
  type FailoverWorkload,
  type FailoverTimes,
} from './failover-workload.js';
export {
  openOriginFixture,
  type OriginFixture,
  type OriginFixtureDispatcher,
  type OriginFixtureOptions,
} from './origin-fixture.js';
export { slotFixture, type SlotFixture, type SlotFixtureOptions } from './slot-fixture.js';
export { killAtRandomMoments, type KillLoopOptions } from './kill-loop.js';
export { mixedSize, type SizeTier } from './mixed-size.js';
export { lateBound } from './late-bound.js';
export { clusterPerTest } from './cluster-per-test.js';
export { rejection } from './rejection.js';
export { clusterPerFile } from './cluster-per-file.js';
export { slotWalLimit } from './slot-wal-limit.js';
export { writeWhileKilling, type WriteWhileKillingOptions } from './write-while-killing.js';
export { lastRunCatchesUp } from './last-run-catches-up.js';
export { databasePerFile } from './database-per-file.js';
