import { afterEach } from 'vitest';
import type { Cluster } from './cluster.js';

/**
 * For test files where each test starts its own cluster (failover tests kill and promote nodes):
 * registers an `afterEach` that stops the cluster the test handed to the returned function, and
 * returns that function (it resolves to the started cluster).
 *
 * @example
 * const own = clusterPerTest();
 * it('fails over', async () => {
 *   const c = await own(startFailoverCluster());
 * });
 */
export function clusterPerTest(): <C extends Cluster>(starting: Promise<C>) => Promise<C> {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });
  return async (starting) => {
    const started = await starting;
    cluster = started;
    return started;
  };
}
