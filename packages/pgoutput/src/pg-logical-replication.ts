import { PgoutputDecoder, type DecoderOptions } from './decoder.js';
import { KoyoPgoutputError } from './errors.js';
import type { PgoutputMessage } from './messages.js';

/**
 * The part of a `pg` `Client` the plugin uses to start replication (structural, so this module
 * needs neither `pg` nor its types at run time).
 */
export interface ReplicationQueryClient {
  query(sql: string): Promise<unknown>;
}

/**
 * Options of {@link KoyoPgoutputPlugin}: the pgoutput options sent with `START_REPLICATION`,
 * plus the decoder's own options.
 */
export interface KoyoPgoutputPluginOptions extends Omit<
  DecoderOptions,
  'protocolVersion' | 'binary'
> {
  /** Publications to stream (`publication_names`). At least one. */
  publicationNames: string[];
  /**
   * `proto_version`: 1 (PostgreSQL 10+), 2 (14+, streaming), 3 (15+, two-phase), 4 (16+,
   * parallel streaming). Default 1, as `pg-logical-replication`'s own plugin.
   */
  protoVersion?: 1 | 2 | 3 | 4;
  /** `binary 'true'`: values in binary format (PostgreSQL 14+). Default false. */
  binary?: boolean;
  /** `messages 'true'`: deliver `pg_logical_emit_message()` messages (PostgreSQL 14+). Default false. */
  messages?: boolean;
  /**
   * `streaming`: send large in-progress transactions in blocks (`true`/`'on'` needs protocol 2+,
   * `'parallel'` protocol 4+). Default off.
   */
  streaming?: boolean | 'off' | 'on' | 'parallel';
  /** `two_phase 'on'`: decode prepared transactions at `PREPARE` (protocol 3+, slot created with two_phase). */
  twoPhase?: boolean;
  /** `origin`: `'none'` skips changes that came from another node by replication (PostgreSQL 16+). */
  origin?: 'any' | 'none';
}

// Quoting for the one START_REPLICATION command this adapter writes. @koyo/slot owns identifier
// rules and quoting for koyo; @koyo/pgoutput sits below it (no dependency on slot), so this
// adapter keeps these two lines.
function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function quoteIdentifier(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

const LSN_TEXT = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/**
 * A `pg-logical-replication` output plugin that decodes with `@koyo/pgoutput`: protocol versions
 * 1 to 4 (streamed and two-phase transactions, origins, logical messages), binary values, values
 * parsed like `pg` parses a SELECT, and {@link UNCHANGED_TOAST} for unchanged TOASTed values.
 * A drop-in replacement for that library's `PgoutputPlugin`: pass it to
 * `LogicalReplicationService.subscribe()`; `data` events then carry {@link PgoutputMessage}s.
 *
 * `pg-logical-replication` is an optional peer dependency; this module does not load it.
 *
 * @example
 * import { LogicalReplicationService } from 'pg-logical-replication';
 * import { KoyoPgoutputPlugin } from '@koyo/pgoutput/pg-logical-replication';
 *
 * const service = new LogicalReplicationService({ connectionString });
 * const plugin = new KoyoPgoutputPlugin({ publicationNames: ['app'], protoVersion: 4, streaming: 'parallel' });
 * service.on('data', (lsn, message) => {
 *   if (message.tag === 'insert') console.log(message.relation.name, message.new);
 * });
 * await service.subscribe(plugin, 'app_slot');
 */
export class KoyoPgoutputPlugin {
  /** The options given to the constructor. */
  readonly options: KoyoPgoutputPluginOptions;
  /** The decoder; it is reset each time replication (re)starts. */
  readonly decoder: PgoutputDecoder;

  /** @throws KoyoPgoutputError `INVALID_OPTION` for a bad option. */
  constructor(options: KoyoPgoutputPluginOptions) {
    const names = options?.publicationNames;
    if (
      !Array.isArray(names) ||
      names.length === 0 ||
      names.some((name) => typeof name !== 'string' || name === '')
    ) {
      throw new KoyoPgoutputError(
        'INVALID_OPTION',
        'publicationNames must be a non-empty array of publication names.',
      );
    }
    const version = options.protoVersion ?? 1;
    const streaming = options.streaming ?? false;
    if ((streaming === true || streaming === 'on') && version < 2) {
      throw new KoyoPgoutputError('INVALID_OPTION', 'streaming needs protoVersion 2 or higher.');
    }
    if (streaming === 'parallel' && version < 4) {
      throw new KoyoPgoutputError('INVALID_OPTION', "streaming: 'parallel' needs protoVersion 4.");
    }
    if (options.twoPhase && version < 3) {
      throw new KoyoPgoutputError('INVALID_OPTION', 'twoPhase needs protoVersion 3 or higher.');
    }
    this.options = options;
    const decoderOptions: DecoderOptions = {
      protocolVersion: version,
      binary: options.binary ?? false,
    };
    if (options.parse !== undefined) decoderOptions.parse = options.parse;
    if (options.typeParsers !== undefined) decoderOptions.typeParsers = options.typeParsers;
    this.decoder = new PgoutputDecoder(decoderOptions);
  }

  /** The output plugin's name on the server: `pgoutput`. */
  get name(): string {
    return 'pgoutput';
  }

  /** The `START_REPLICATION` command this plugin sends for `slotName` from `lastLsn`. */
  startCommand(slotName: string, lastLsn: string): string {
    if (!LSN_TEXT.test(lastLsn)) {
      throw new KoyoPgoutputError(
        'INVALID_LSN',
        `Not an LSN: ${JSON.stringify(lastLsn)} (expected e.g. "0/16B3748").`,
      );
    }
    const o = this.options;
    const streaming =
      o.streaming === true
        ? 'on'
        : o.streaming === false || o.streaming === undefined
          ? undefined
          : o.streaming;
    const options = [
      `proto_version ${quoteLiteral(String(o.protoVersion ?? 1))}`,
      `publication_names ${quoteLiteral(o.publicationNames.map(quoteIdentifier).join(','))}`,
    ];
    if (o.binary) options.push(`binary 'true'`);
    if (o.messages) options.push(`messages 'true'`);
    if (streaming !== undefined && streaming !== 'off')
      options.push(`streaming ${quoteLiteral(streaming)}`);
    if (o.twoPhase) options.push(`two_phase 'on'`);
    if (o.origin !== undefined) options.push(`origin ${quoteLiteral(o.origin)}`);
    return `START_REPLICATION SLOT ${quoteIdentifier(slotName)} LOGICAL ${lastLsn} (${options.join(', ')})`;
  }

  /** Called by `LogicalReplicationService.subscribe()`: resets the decoder and starts replication. */
  start(client: ReplicationQueryClient, slotName: string, lastLsn: string): Promise<unknown> {
    const command = this.startCommand(slotName, lastLsn);
    this.decoder.reset();
    return client.query(command);
  }

  /** Decodes one XLogData payload. @throws KoyoPgoutputError for malformed input. */
  parse(buffer: Uint8Array): PgoutputMessage {
    return this.decoder.decode(buffer);
  }
}
