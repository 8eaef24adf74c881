import { formatLsn } from '@koyo/pgoutput';
import { KoyoSlotError } from './errors.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';

/** pgoutput protocol versions. */
export type ProtocolVersion = 1 | 2 | 3 | 4;

/** The highest pgoutput protocol a server supports: PG14 2, PG15 3, PG16+ 4 (1 before 14). */
export function highestProtocolVersion(serverVersionNum: number): ProtocolVersion {
  if (serverVersionNum >= 160000) return 4;
  if (serverVersionNum >= 150000) return 3;
  if (serverVersionNum >= 140000) return 2;
  return 1;
}

/** The pgoutput options of a stream, before the server is known. */
export interface PgoutputOptions {
  protocolVersion: 'auto' | ProtocolVersion;
  publications: readonly string[];
  binary: boolean;
  messages: boolean;
  origin: 'any' | 'none' | undefined;
  streaming: boolean | 'parallel';
  twoPhase: boolean;
}

/**
 * @internal resolves the protocol version for a server and checks that every option is
 * supported by it, so the user gets a clear typed error instead of a server message.
 */
export function resolveProtocol(
  options: PgoutputOptions,
  serverVersionNum: number,
): ProtocolVersion {
  const highest = highestProtocolVersion(serverVersionNum);
  const version = options.protocolVersion === 'auto' ? highest : options.protocolVersion;
  const server = `PostgreSQL ${Math.floor(serverVersionNum / 10000)}`;
  if (version > highest) {
    throw new KoyoSlotError(
      'PROTOCOL_UNSUPPORTED',
      `pgoutput protocol version ${version} needs a newer server: ${server} supports up to ${highest}. Use protocolVersion: 'auto'.`,
    );
  }
  const need = (what: string, minVersion: ProtocolVersion, minServer: number): void => {
    if (version < minVersion || serverVersionNum < minServer) {
      throw new KoyoSlotError(
        'PROTOCOL_UNSUPPORTED',
        `${what} needs pgoutput protocol ${minVersion}+ on PostgreSQL ${minServer / 10000}+; this stream uses protocol ${version} on ${server}.`,
      );
    }
  };
  if (options.streaming === 'parallel') need("streaming: 'parallel'", 4, 160000);
  else if (options.streaming) need('streaming', 2, 140000);
  if (options.twoPhase) need('twoPhase', 3, 150000);
  if (options.binary && serverVersionNum < 140000) need('binary', 1, 140000);
  if (options.messages && serverVersionNum < 140000) need('messages', 1, 140000);
  if (options.origin !== undefined && serverVersionNum < 160000) need('origin', 1, 160000);
  return version;
}

/** @internal the START_REPLICATION command. The slot name must already be validated. */
export function startReplicationCommand(
  slot: string,
  startLsn: bigint,
  version: ProtocolVersion,
  options: PgoutputOptions,
): string {
  const names = options.publications.map(quoteIdent).join(',');
  const parts = [`proto_version '${version}'`, `publication_names ${quoteLiteral(names)}`];
  if (options.binary) parts.push(`binary 'true'`);
  if (options.messages) parts.push(`messages 'true'`);
  if (options.streaming === 'parallel') parts.push(`streaming 'parallel'`);
  else if (options.streaming) parts.push(`streaming 'on'`);
  if (options.twoPhase) parts.push(`two_phase 'true'`);
  if (options.origin !== undefined) parts.push(`origin '${options.origin}'`);
  return `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${formatLsn(startLsn)} (${parts.join(', ')})`;
}
