import {
  createSlotManager,
  KoyoSlotError,
  openReplicationStream,
  type QualifiedTable,
  type ReplicationStreamOptions,
} from '@koyo/slot';
import type { Backend, WireStream } from './_backend.js';
import { domainLookup, primaryKeyLookup, type CatalogQuery } from './catalog-lookups.js';
import { HelperSession } from './helper-session.js';
import { readCommittedMessages } from './committed-order.js';
import { pgBackfillSource } from './pg-backfill-source.js';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { DispatcherOptions } from './options.js';

/** Upper bound of the reconnect delay unless `reconnect.maxDelayMs` says otherwise. */
const DEFAULT_MAX_RECONNECT_DELAY_MS = 5_000;

/** The backend of a real dispatcher: `@koyo/slot` for the slot, publication and stream. */
export function pgBackend(options: DispatcherOptions, logger: Logger): Backend {
  const helper = new HelperSession(options.connection);
  const catalogQuery: CatalogQuery = (sql, params) => helper.query(sql, params);
  const backfill = pgBackfillSource(options);
  let serverVersion = 0;
  const label = (tables: readonly QualifiedTable[] | null): string =>
    tables ? tables.map((t) => `${t.schema}.${t.name}`).join(',') : 'ALL';
  return {
    async resolveTables(refs) {
      if (refs.length === 0) return [];
      const manager = createSlotManager(options.connection);
      try {
        return await manager.resolveTables([...refs]);
      } finally {
        await manager.close();
      }
    },
    async setup(tables) {
      const manager = createSlotManager(options.connection);
      try {
        // Checks every precondition before creating anything; without `tables`, an existing
        // publication is used as it is; FOR ALL TABLES only with `tables: '*'`.
        const result = await manager
          .ensureSetup({
            publication: options.publication,
            slot: options.slot,
            ...(tables !== null
              ? { tables: [...tables] }
              : options.tables === '*'
                ? { tables: '*' as const }
                : {}),
            createPublication: options.createPublication !== false,
            createSlot: options.createSlot !== false,
            publishGeneratedColumns: options.publishGeneratedColumns !== false,
            ...(options.failover === true ? { failover: true } : {}),
          })
          .catch(passThroughRefusal);
        if (result.publication.created)
          logger.info(
            { publication: options.publication, tables: label(result.tables) },
            'publication created',
          );
        if (result.slot.created) logger.info({ slot: options.slot }, 'replication slot created');
        const [version] = await helper.query<{ v: number }>(
          "SELECT current_setting('server_version_num')::int AS v",
          [],
        );
        serverVersion = version?.v ?? 0;
      } finally {
        await manager.close();
      }
    },
    openStream(): WireStream {
      const streamOptions: ReplicationStreamOptions = {
        connection: options.connection,
        slot: options.slot,
        publications: [options.publication],
        messages: true,
        parse: true,
        logger,
      };
      // A standby dispatcher retries every few seconds at most, so it takes over quickly.
      streamOptions.reconnect = {
        maxDelayMs: DEFAULT_MAX_RECONNECT_DELAY_MS,
        ...options.reconnect,
      };
      const passthrough = [
        'startLsn',
        'protocolVersion',
        'origin',
        'streaming',
        'statusIntervalMs',
        'ackDelayMs',
        'bufferSize',
        'typeParsers',
      ] as const;
      for (const key of passthrough) {
        if (options[key] !== undefined)
          (streamOptions as unknown as Record<string, unknown>)[key] = options[key];
      }
      // ignoreOrigins: 'all' is what pgoutput's origin = none does (16+): the server then skips
      // those transactions instead of sending them to be dropped here.
      if (
        options.ignoreOrigins === 'all' &&
        options.origin === undefined &&
        serverVersion >= 160_000
      )
        streamOptions.origin = 'none';
      // Assigned without a cast: the compiler checks that @koyo/slot's stream fits the WireStream shape it picks.
      const stream: WireStream = openReplicationStream(streamOptions);
      return stream;
    },
    async emitMarker(prefix, token) {
      await helper.query('SELECT pg_logical_emit_message(true, $1, $2)', [prefix, token]);
    },
    lookupPrimaryKey: primaryKeyLookup(catalogQuery),
    lookupDomains: domainLookup(catalogQuery, options.typeParsers),
    lookupCommittedMessages(txn) {
      return readCommittedMessages(
        {
          connection: options.connection,
          slot: options.slot,
          publication: options.publication,
          logger,
        },
        txn,
      );
    },
    async slotHealth() {
      const version = serverVersion || 140_000;
      const reason =
        version >= 170_000
          ? "coalesce(invalidation_reason, CASE WHEN wal_status = 'lost' THEN 'wal_removed' END)"
          : "CASE WHEN wal_status = 'lost' THEN 'wal_removed' END";
      const [row] = await helper.query<{
        retained: string | null;
        wal_status: string | null;
        safe: string | null;
        keep_mb: string;
        reason: string | null;
      }>(
        `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - restart_lsn)::text AS retained,
                wal_status, safe_wal_size::text AS safe,
                (SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size') AS keep_mb,
                (${reason})::text AS reason
           FROM pg_replication_slots WHERE slot_name = $1`,
        [options.slot],
      );
      if (!row) return null;
      const keepMb = Number(row.keep_mb);
      return {
        retainedBytes: row.retained === null ? null : Number(row.retained),
        walStatus: row.wal_status,
        safeWalSize: row.safe === null ? null : Number(row.safe),
        keepBytes: keepMb < 0 ? null : keepMb * 1024 * 1024,
        invalidationReason: row.reason,
      };
    },
    async slotExists() {
      const rows = await helper.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
        options.slot,
      ]);
      return rows.length > 0;
    },
    backfill,
    async close() {
      await Promise.all([helper.close(), backfill.close()]);
    },
  };
}

/** A setup refused for a reason the user must choose about keeps its `@koyo/slot` code. */
function passThroughRefusal(error: unknown): never {
  const code = (error as { code?: unknown } | null)?.code;
  if (
    error instanceof KoyoSlotError &&
    (code === 'PUBLICATION_TABLES_REQUIRED' ||
      code === 'REPLICA_IDENTITY_MISSING' ||
      code === 'UNSUPPORTED' ||
      code === 'SLOT_INVALIDATED' ||
      code === 'SPLIT_BRAIN')
  ) {
    throw new KoyoDispatcherError(code, error.message, { cause: error });
  }
  throw error;
}
