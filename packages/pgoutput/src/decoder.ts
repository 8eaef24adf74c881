import { KoyoPgoutputError } from './errors.js';
import type {
  DeleteMessage,
  InsertMessage,
  MessageMessage,
  PgoutputMessage,
  RelationColumn,
  RelationMessage,
  StreamStartMessage,
  StreamStopMessage,
  TruncateMessage,
  TypeMessage,
  UpdateMessage,
} from './messages.js';
import { asBuffer, Reader } from './reader.js';
import { CompiledRelation, readTuple, type ValueOptions } from './relation.js';
import { typeParserMap } from './type-parsers.js';
import {
  readBegin,
  readBeginPrepare,
  readCommit,
  readCommitPrepared,
  readOrigin,
  readPrepare,
  readRollbackPrepared,
  readStreamAbort,
  readStreamCommit,
} from './transaction-messages.js';

/** Options of {@link PgoutputDecoder}. */
export interface DecoderOptions {
  /**
   * The `proto_version` the stream was started with. Messages a version cannot carry (stream
   * messages below 2, two-phase messages below 3) are rejected with `UNSUPPORTED_MESSAGE`.
   * Default 4 (accept everything).
   */
  protocolVersion?: 1 | 2 | 3 | 4;
  /**
   * Parse values like `pg` parses a SELECT result (default `true`). With `false`, text values
   * stay the server's text and binary values stay bytes.
   */
  parse?: boolean;
  /**
   * Whether the stream was started with `binary 'true'`. Informational: every value on the wire
   * says whether it is text or binary, and the decoder handles both either way.
   */
  binary?: boolean;
  /**
   * Parsers by type OID, overriding pg's for those types, e.g. `{ 20: BigInt }` for int8 as
   * bigint or `{ 1700: Number }` for numeric. They get the value's text (also in binary mode for
   * the common types, whose binary form is rendered as text first). Ignored with `parse: false`.
   */
  typeParsers?: Record<number, (value: string) => unknown>;
}

const REPLICA_IDENTITY: Record<number, RelationMessage['replicaIdentity']> = {
  0x64: 'default',
  0x6e: 'nothing',
  0x66: 'full',
  0x69: 'index',
};

/**
 * Decodes pgoutput messages (logical replication protocol versions 1 to 4, PostgreSQL 14 to 18),
 * one XLogData payload at a time, into typed objects with a `tag`.
 *
 * A decoder follows one replication session: it remembers the relations (and types) announced
 * by Relation messages, and whether it is inside a streamed block (whose messages carry an xid).
 * Call {@link PgoutputDecoder.reset} when you reconnect. A payload that fails to decode throws a
 * {@link KoyoPgoutputError} and changes nothing, so the decoder stays usable.
 *
 * Byte buffers are not kept: everything in a returned message is copied, so the payload's memory
 * may be reused right after `decode` returns.
 *
 * @example
 * const decoder = new PgoutputDecoder({ protocolVersion: 4 });
 * const message = decoder.decode(xlogData.payload);
 * if (message.tag === 'insert') console.log(message.relation.name, message.new);
 */
export class PgoutputDecoder {
  readonly protocolVersion: 1 | 2 | 3 | 4;
  readonly parse: boolean;
  readonly binary: boolean;
  private readonly reader = new Reader();
  private readonly values: ValueOptions;
  private readonly relations = new Map<number, CompiledRelation>();
  private readonly types = new Map<number, TypeMessage>();
  private inStream = false;

  constructor(options: DecoderOptions = {}) {
    const version = options.protocolVersion ?? 4;
    if (version !== 1 && version !== 2 && version !== 3 && version !== 4) {
      throw new KoyoPgoutputError(
        'INVALID_OPTION',
        `protocolVersion must be 1, 2, 3 or 4, got ${String(version)}.`,
      );
    }
    const typeParsers = typeParserMap(options.typeParsers);
    this.protocolVersion = version;
    this.parse = options.parse ?? true;
    this.binary = options.binary ?? false;
    this.values = { parse: this.parse, typeParsers, generateCode: true };
  }

  /** Forgets relations, types and stream state, as needed after a reconnect. */
  reset(): void {
    this.relations.clear();
    this.types.clear();
    this.inStream = false;
  }

  /** The last Relation message seen for `oid`, if any. */
  getRelation(oid: number): RelationMessage | undefined {
    return this.relations.get(oid)?.message;
  }

  /** The last Type message seen for `oid`, if any. */
  getType(oid: number): TypeMessage | undefined {
    return this.types.get(oid);
  }

  /**
   * Decodes one pgoutput message (the payload of one XLogData frame).
   *
   * @throws KoyoPgoutputError for anything malformed, unknown or unsupported.
   */
  decode(payload: Uint8Array): PgoutputMessage {
    if (!(payload instanceof Uint8Array)) {
      throw new KoyoPgoutputError(
        'INVALID_OPTION',
        'decode() takes the payload bytes as a Uint8Array or Buffer.',
      );
    }
    const r = this.reader;
    r.reset(asBuffer(payload));
    try {
      const message = this.message(r.u8());
      r.done();
      return message;
    } catch (error) {
      if (error instanceof KoyoPgoutputError) throw error;
      throw new KoyoPgoutputError(
        'INVALID_MESSAGE',
        `Malformed pgoutput ${r.tag ?? 'message'} at offset ${r.pos}: ${error instanceof Error ? error.message : String(error)}`,
        { offset: r.pos, tag: r.tag, cause: error },
      );
    }
  }

  private message(tag: number): PgoutputMessage {
    const r = this.reader;
    switch (tag) {
      case 0x49 /* I */:
        return this.insert();
      case 0x55 /* U */:
        return this.update();
      case 0x44 /* D */:
        return this.delete();
      case 0x42 /* B */:
        r.tag = 'begin';
        return readBegin(r);
      case 0x43 /* C */:
        r.tag = 'commit';
        return readCommit(r);
      case 0x52 /* R */:
        return this.relation();
      case 0x59 /* Y */:
        return this.type();
      case 0x54 /* T */:
        return this.truncate();
      case 0x4d /* M */:
        return this.logicalMessage();
      case 0x4f /* O */:
        r.tag = 'origin';
        return readOrigin(r);
      case 0x53 /* S */:
        return this.streamStart();
      case 0x45 /* E */:
        return this.streamStop();
      case 0x63 /* c */:
        this.need(2, 'stream_commit');
        return readStreamCommit(r);
      case 0x41 /* A */:
        this.need(2, 'stream_abort');
        return readStreamAbort(r, this.protocolVersion);
      case 0x62 /* b */:
        this.need(3, 'begin_prepare');
        return readBeginPrepare(r);
      case 0x50 /* P */:
        this.need(3, 'prepare');
        return readPrepare(r, 'prepare');
      case 0x4b /* K */:
        this.need(3, 'commit_prepared');
        return readCommitPrepared(r);
      case 0x72 /* r */:
        this.need(3, 'rollback_prepared');
        return readRollbackPrepared(r);
      case 0x70 /* p */:
        this.need(3, 'stream_prepare');
        return readPrepare(r, 'stream_prepare');
      default:
        throw new KoyoPgoutputError(
          'UNKNOWN_MESSAGE',
          `Unknown pgoutput message tag 0x${tag.toString(16)} (${JSON.stringify(String.fromCharCode(tag))}) at offset 0. ` +
            'Is this payload from the pgoutput plugin (and is it the XLogData payload, without the 25-byte frame header)?',
          { offset: 0 },
        );
    }
  }

  private need(version: 2 | 3, tag: string): void {
    this.reader.tag = tag;
    if (this.protocolVersion < version) {
      throw new KoyoPgoutputError(
        'UNSUPPORTED_MESSAGE',
        `pgoutput ${tag} messages need protocol version ${version} or higher, but this decoder was created with protocolVersion ${this.protocolVersion}. ` +
          'Create the decoder with the proto_version the stream was started with.',
        { offset: 0, tag },
      );
    }
  }

  private relationOf(oid: number): CompiledRelation {
    const relation = this.relations.get(oid);
    if (relation) return relation;
    throw new KoyoPgoutputError(
      'UNKNOWN_RELATION',
      `pgoutput ${this.reader.tag ?? 'message'} refers to relation OID ${oid}, which no Relation message announced. ` +
        'A decoder must see a replication session from its start: after a reconnect call reset() and keep decoding the new session.',
      { offset: this.reader.pos - 4, tag: this.reader.tag },
    );
  }

  private streamXid(): number | undefined {
    return this.inStream ? this.reader.u32() : undefined;
  }

  private insert(): InsertMessage {
    const r = this.reader;
    r.tag = 'insert';
    const xid = this.streamXid();
    const relation = this.relationOf(r.u32());
    const kind = r.u8();
    if (kind !== 0x4e /* N */)
      throw r.invalid(`Expected 'N' before the new tuple, got 0x${kind.toString(16)}.`, r.pos - 1);
    return { tag: 'insert', relation: relation.message, new: readTuple(r, relation, false), xid };
  }

  private update(): UpdateMessage {
    const r = this.reader;
    r.tag = 'update';
    const xid = this.streamXid();
    const relation = this.relationOf(r.u32());
    let key = null;
    let old = null;
    let kind = r.u8();
    if (kind === 0x4b /* K */ || kind === 0x4f /* O */) {
      if (kind === 0x4b) key = readTuple(r, relation, true);
      else old = readTuple(r, relation, false);
      kind = r.u8();
    }
    if (kind !== 0x4e /* N */)
      throw r.invalid(
        `Expected 'K', 'O' or 'N' in an update, got 0x${kind.toString(16)}.`,
        r.pos - 1,
      );
    return {
      tag: 'update',
      relation: relation.message,
      key,
      old,
      new: readTuple(r, relation, false),
      xid,
    };
  }

  private delete(): DeleteMessage {
    const r = this.reader;
    r.tag = 'delete';
    const xid = this.streamXid();
    const relation = this.relationOf(r.u32());
    const kind = r.u8();
    if (kind === 0x4b /* K */)
      return {
        tag: 'delete',
        relation: relation.message,
        key: readTuple(r, relation, true),
        old: null,
        xid,
      };
    if (kind === 0x4f /* O */)
      return {
        tag: 'delete',
        relation: relation.message,
        key: null,
        old: readTuple(r, relation, false),
        xid,
      };
    throw r.invalid(`Expected 'K' or 'O' in a delete, got 0x${kind.toString(16)}.`, r.pos - 1);
  }

  private schemaName(): string {
    // pgoutput sends pg_catalog as an empty string.
    return this.reader.cstring() || 'pg_catalog';
  }

  private relation(): RelationMessage {
    const r = this.reader;
    r.tag = 'relation';
    const xid = this.streamXid();
    const oid = r.u32();
    const schema = this.schemaName();
    const name = r.cstring();
    const identityByte = r.u8();
    const replicaIdentity = REPLICA_IDENTITY[identityByte];
    if (!replicaIdentity) {
      throw r.invalid(
        `Unknown replica identity 0x${identityByte.toString(16)} (expected d, n, f or i).`,
        r.pos - 1,
      );
    }
    const count = r.u16();
    const columns: RelationColumn[] = [];
    for (let i = 0; i < count; i++) {
      const flags = r.u8();
      const columnName = r.cstring();
      const typeOid = r.u32();
      const typeMod = r.i32();
      columns.push({ name: columnName, typeOid, typeMod, isKey: (flags & 1) === 1, flags });
    }
    r.done();
    const message: RelationMessage = {
      tag: 'relation',
      oid,
      schema,
      name,
      replicaIdentity,
      columns,
      xid,
    };
    this.relations.set(oid, new CompiledRelation(message, this.values));
    return message;
  }

  private type(): TypeMessage {
    const r = this.reader;
    r.tag = 'type';
    const xid = this.streamXid();
    const oid = r.u32();
    const schema = this.schemaName();
    const message: TypeMessage = { tag: 'type', oid, schema, name: r.cstring(), xid };
    r.done();
    this.types.set(oid, message);
    return message;
  }

  private truncate(): TruncateMessage {
    const r = this.reader;
    r.tag = 'truncate';
    const xid = this.streamXid();
    const count = r.u32();
    const flags = r.u8();
    if (count * 4 > r.end - r.pos) throw r.truncated(count * 4);
    const relations: RelationMessage[] = [];
    for (let i = 0; i < count; i++) relations.push(this.relationOf(r.u32()).message);
    return {
      tag: 'truncate',
      relations,
      cascade: (flags & 1) !== 0,
      restartIdentity: (flags & 2) !== 0,
      xid,
    };
  }

  private logicalMessage(): MessageMessage {
    const r = this.reader;
    r.tag = 'message';
    const xid = this.streamXid();
    const flags = r.u8();
    const lsn = r.u64();
    const prefix = r.cstring();
    const length = r.i32();
    return {
      tag: 'message',
      transactional: (flags & 1) !== 0,
      lsn,
      prefix,
      content: r.bytes(length),
      xid,
    };
  }

  private streamStart(): StreamStartMessage {
    const r = this.reader;
    this.need(2, 'stream_start');
    const xid = r.u32();
    const firstSegment = r.u8() === 1;
    r.done();
    this.inStream = true;
    return { tag: 'stream_start', xid, firstSegment };
  }

  private streamStop(): StreamStopMessage {
    this.need(2, 'stream_stop');
    this.reader.done();
    this.inStream = false;
    return { tag: 'stream_stop' };
  }
}
