import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { parseLsn } from '@koyo/pgoutput';
import type pg from 'pg';
import type { ConnectionOptions } from './connection.js';
import { connectWritable } from './hosts.js';
import { invalidatedSlotAdvice, KoyoSlotError } from './errors.js';
import { quoteLiteral } from './identifiers.js';
import { resolveProtocol, startReplicationCommand, type PgoutputOptions, type ProtocolVersion } from './protocol.js';

/** @internal the parts of pg's (untyped) Connection a replication stream uses. */
export interface PgConnection extends EventEmitter {
  stream: Socket;
  sendCopyFromChunk(chunk: Uint8Array): void;
  endCopyFrom(): void;
}

/** @internal what the stream learns about the server before START_REPLICATION. */
export interface ServerFacts {
  serverVersionNum: number;
  /** wal_sender_timeout in ms (0 = disabled). */
  walSenderTimeoutMs: number;
  /** The slot's confirmed_flush_lsn. */
  confirmedFlushLsn: bigint;
  /** The position START_REPLICATION asked for: the later of the stream's restart point and the slot's. */
  startLsn: bigint;
  protocolVersion: ProtocolVersion;
}

/** @internal the callbacks of one replication connection. */
export interface ConnectionHandlers {
  /** START_REPLICATION was accepted (CopyBothResponse); data follows. */
  onStart(facts: ServerFacts, connection: PgConnection): void;
  /** One CopyData body (a view into pg's buffer: copy what you keep). */
  onCopyData(body: Buffer): void;
  /** A NOTICE or WARNING from the server. */
  onNotice(notice: { message: string; severity?: string | undefined; code?: string | undefined; detail?: string | undefined; hint?: string | undefined }): void;
}

/** @internal settings for one replication connection. */
export interface ConnectionSettings {
  connection: ConnectionOptions;
  slot: string;
  publications: readonly string[];
  pgoutput: PgoutputOptions;
  /** Where to ask the server to start (it starts at the slot's confirmed position if that is later). */
  startLsn: () => bigint;
}

/** @internal one replication connection: connect, check, START_REPLICATION, stream until it ends. */
export class ReplicationConnection {
  #client: pg.Client | undefined;
  #ended = false;
  #closing: Promise<void> | undefined;

  constructor(private readonly settings: ConnectionSettings) {}

  /** pg's connection object (CopyData in and out), once connected. */
  get connection(): PgConnection | undefined {
    return (this.#client as unknown as { connection: PgConnection } | undefined)?.connection;
  }

  /**
   * Connects (to the writable host, when the connection names several), checks the server,
   * slot and publications, and streams. Resolves when the server ends the stream (or after our
   * CopyDone); rejects with the error that ended it.
   */
  run(handlers: ConnectionHandlers): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        this.#ended = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#stream(handlers, finish).then(() => finish(), finish);
    });
  }

  async #stream(handlers: ConnectionHandlers, finish: (error?: unknown) => void): Promise<void> {
    const { slot, publications, pgoutput } = this.settings;
    // A connect attempt that hangs (a silent network) is given up and retried by the stream's backoff.
    const client = await connectWritable(this.settings.connection, { keepAlive: true, connectionTimeoutMillis: 30_000, replication: 'database' } as pg.ClientConfig);
    this.#client = client;
    client.on('error', finish);
    client.on('end', () => finish(new KoyoSlotError('CONNECTION_FAILED', 'The replication connection was closed.')));
    client.on('notice', (notice: { message?: string | undefined; severity?: string | undefined; code?: string | undefined; detail?: string | undefined; hint?: string | undefined }) =>
      handlers.onNotice({ message: notice.message ?? '', severity: notice.severity, code: notice.code, detail: notice.detail, hint: notice.hint }),
    );
    if (this.#closing) {
      await client.end().catch(() => undefined);
      return;
    }
    const facts = await this.#preflight(client);
    const connection = this.connection!;
    connection.on('copyData', (message: { chunk: Buffer }) => handlers.onCopyData(message.chunk));
    connection.once('replicationStart', () => handlers.onStart(facts, connection));
    const requested = this.settings.startLsn();
    facts.startLsn = requested > facts.confirmedFlushLsn ? requested : facts.confirmedFlushLsn;
    await client.query(startReplicationCommand(slot, facts.startLsn, facts.protocolVersion, { ...pgoutput, publications }));
  }

  async #preflight(client: pg.Client): Promise<ServerFacts> {
    const { slot, publications, pgoutput } = this.settings;
    const names = publications.map(quoteLiteral).join(', ');
    const result = await client.query(`
      SELECT current_setting('server_version_num')::int AS version_num,
             current_setting('wal_level') AS wal_level,
             (SELECT setting::int FROM pg_settings WHERE name = 'wal_sender_timeout') AS wal_sender_timeout,
             current_database()::text AS db,
             (SELECT to_jsonb(s) FROM pg_replication_slots s WHERE s.slot_name = ${quoteLiteral(slot)}) AS slot,
             (SELECT coalesce(array_agg(n), '{}') FROM unnest(ARRAY[${names}]::text[]) n
               WHERE NOT EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = n)) AS missing`);
    const row = result.rows[0] as {
      version_num: number;
      wal_level: string;
      wal_sender_timeout: number;
      db: string;
      slot: Record<string, any> | null;
      missing: string[];
    };
    if (row.wal_level !== 'logical') {
      throw new KoyoSlotError('WAL_LEVEL', `wal_level is "${row.wal_level}", but logical replication needs wal_level = logical. Run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL.`);
    }
    const info = row.slot;
    if (!info) {
      throw new KoyoSlotError('SLOT_NOT_FOUND', `Replication slot "${slot}" does not exist. Create it with createSlotManager(...).ensureSlot("${slot}"); koyo never recreates a slot by itself, since a new slot skips every change made before it.`);
    }
    if (info.slot_type !== 'logical' || info.plugin !== 'pgoutput') {
      throw new KoyoSlotError('SLOT_MISMATCH', `Replication slot "${slot}" is a ${info.slot_type} slot with plugin ${info.plugin ?? 'none'}; a stream needs a logical slot with pgoutput.`);
    }
    if (info.database !== row.db) {
      throw new KoyoSlotError('SLOT_MISMATCH', `Replication slot "${slot}" belongs to database "${info.database}", but this connection is to "${row.db}". Connect to "${info.database}".`);
    }
    const reason = (info.invalidation_reason as string | null | undefined) ?? (info.wal_status === 'lost' ? 'wal_removed' : info.conflicting === true ? 'rows_removed' : null);
    if (reason) {
      throw new KoyoSlotError('SLOT_INVALIDATED', `Replication slot "${slot}" was invalidated (${reason}): the WAL it needed is gone. ${invalidatedSlotAdvice(slot)}`);
    }
    if (row.missing.length > 0) {
      throw new KoyoSlotError('PUBLICATION_NOT_FOUND', `Publication${row.missing.length > 1 ? 's' : ''} ${row.missing.map((n) => `"${n}"`).join(', ')} not found in database "${row.db}". Create it with createSlotManager(...).ensurePublication(name, { tables }) or CREATE PUBLICATION.`);
    }
    return {
      serverVersionNum: row.version_num,
      walSenderTimeoutMs: row.wal_sender_timeout,
      confirmedFlushLsn: typeof info.confirmed_flush_lsn === 'string' ? parseLsn(info.confirmed_flush_lsn) : 0n,
      startLsn: 0n,
      protocolVersion: resolveProtocol(pgoutput, row.version_num),
    };
  }

  /** Whether the connection has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Closes the connection (once; later calls wait for the first); after `timeoutMs` the socket is destroyed. */
  close(timeoutMs = 5_000): Promise<void> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.connection?.stream?.destroy();
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.#client?.end().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }
}
