/**
 * `@koyo/slot`: PostgreSQL logical replication slots and publications (management and
 * diagnostics) and a pgoutput replication stream that only confirms acknowledged positions.
 *
 * @packageDocumentation
 */
export { createSlotManager } from './slot-manager.js';
export type { SlotManager, SetupResult } from './slot-manager.js';
export type { PublicationSpec, EnsurePublicationOptions } from './publication-ops.js';
export type { EnsureSlotOptions, DropSlotOptions } from './slot-ops.js';
export type { Ensured } from './ensured.js';
export type { SetupSpec, SetupCheck } from './setup-check.js';
export { resolveTables } from './table-resolve.js';
export type { ResolvedTable, Queryable } from './table-resolve.js';
export type { SlotInfo } from './slot-info.js';
export type { PublicationInfo, PublishOperation } from './publication-info.js';
export { diagnose } from './diagnose.js';
export { formatBytes } from './format-bytes.js';
export type { DiagnoseTarget, DiagnosticCheck } from './diagnose-types.js';
export {
  ORIGIN_FUNCTIONS,
  ORIGIN_PREFIX,
  originNameForSlot,
  missingOriginPrivileges,
  originGrantStatements,
  listOrigins,
  getOrigin,
  ensureOrigin,
  dropOrigin,
} from './origins.js';
export type { OriginInfo, OriginFunction } from './origins.js';
export { openReplicationStream } from './stream.js';
export { koyoMeter } from './otel.js';
export type { ReplicationStream, ReplicationStreamOptions, ReplicationEvent } from './stream.js';
export type { ReconnectOptions } from './backoff.js';
export { highestProtocolVersion } from './protocol.js';
export type { ProtocolVersion } from './protocol.js';
export { KoyoSlotError, invalidatedSlotAdvice } from './errors.js';
export type { KoyoSlotErrorCode, KoyoSlotErrorOptions, SetupProblem } from './errors.js';
export {
  assertSlotName,
  assertPublicationName,
  parseTableName,
  quoteTableRef,
  quoteIdent,
  quoteLiteral,
} from './identifiers.js';
export type { TableName, TableRef, QualifiedTable } from './identifiers.js';
export type { Logger } from './logger.js';
export type { ConnectionOptions } from './connection.js';
export { SqlSession } from './session.js';
export type { SqlSessionOptions } from './session.js';
export { connectWritable, hostCandidates, writableClientClass } from './hosts.js';
export type { HostAddress } from './hosts.js';
