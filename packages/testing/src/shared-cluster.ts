/** What a test worker learns about the shared cluster its project's global setup started. */
export interface TestClusterInfo {
  /** `system`, `embedded` or `custom`. */
  flavour: string;
  /** Full server version, e.g. `18.4`. */
  version: string;
  major: number;
  primary: NodeInfo;
  replicas: NodeInfo[];
}

/** Where one node listens. */
export interface NodeInfo {
  name: string;
  host: string;
  port: number;
  /** Connection string for the `postgres` database as superuser `postgres`. */
  url: string;
}

/** The key under which the global setup provides {@link TestClusterInfo}. */
export const TEST_CLUSTER_KEY = 'koyoTestCluster';
/** The key under which a project's config asks for a number of replicas. */
export const TEST_REPLICAS_KEY = 'koyoTestReplicas';

declare module 'vitest' {
  export interface ProvidedContext {
    koyoTestCluster: TestClusterInfo;
    koyoTestReplicas: number;
  }
}
