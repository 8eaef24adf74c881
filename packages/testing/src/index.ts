export { startCluster, type Cluster, type StartClusterOptions } from './cluster.js';
export { PgNode, type QueryRow } from './node.js';
export {
  resolveBinaries,
  postgresChoiceFromEnv,
  isPostgresMajor,
  embeddedAliasFor,
  SUPPORTED_MAJORS,
  EMBEDDED_VERSIONS,
  type PostgresBinaries,
  type PostgresChoice,
  type PostgresMajor,
} from './binaries.js';
export { KoyoTestingError, type KoyoTestingErrorCode } from './errors.js';
export { startNats, findNatsServer, type NatsServer, type StartNatsOptions } from './nats.js';
