import type { TestProject } from 'vitest/node';
import { startCluster } from './cluster.js';
import { postgresChoiceFromEnv } from './binaries.js';
import type { PgNode } from './node.js';
import type { NodeInfo } from './shared-cluster.js';

function info(node: PgNode): NodeInfo {
  return { name: node.name, host: node.host, port: node.port, url: node.url };
}

/**
 * Vitest global setup: starts one cluster per test project (flavour from the project's
 * `KOYO_TEST_POSTGRES` env) and provides its addresses to the tests; stops it at the end.
 * Wired up by `defineKoyoVitestConfig`, or list `@koyo/testing/global-setup` in `globalSetup`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = project.config.env ?? {};
  const replicas = (project.config.provide as Record<string, unknown> | undefined)
    ?.koyoTestReplicas;
  const cluster = await startCluster({
    postgres: postgresChoiceFromEnv({
      KOYO_TEST_POSTGRES: env.KOYO_TEST_POSTGRES ?? process.env.KOYO_TEST_POSTGRES,
    }),
    replicas: typeof replicas === 'number' ? replicas : 2,
  });
  project.provide('koyoTestCluster', {
    flavour: cluster.binaries.flavour,
    version: cluster.binaries.version,
    major: cluster.binaries.major,
    primary: info(cluster.primary),
    replicas: cluster.replicas.map(info),
  });
  return () => cluster.stop();
}
