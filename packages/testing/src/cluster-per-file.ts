import { afterAll, beforeAll } from 'vitest';
import { startCluster, type Cluster, type StartClusterOptions } from './cluster.js';
import { lateBound } from './late-bound.js';

/**
 * For a test file (or `describe` block) that needs a cluster of its own, with settings the shared
 * test cluster does not have: starts it in `beforeAll`, stops it in `afterAll`, and returns it.
 * Use it in tests and hooks registered after this call, not at the top level (it is not started
 * there).
 *
 * @example
 * const cluster = clusterPerFile({ replicas: 0, settings: { wal_level: 'replica' } });
 * it('refuses logical replication', async () => {
 *   await cluster.primary.query('SELECT 1');
 * });
 */
export function clusterPerFile(options: StartClusterOptions): Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster(options);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return lateBound('the cluster of this file', () => cluster);
}
