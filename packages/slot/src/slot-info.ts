import { parseLsn } from '@koyo/pgoutput';
import type { SqlSession } from './session.js';

/** One row of `pg_replication_slots`, with lag computed against the server's WAL position. */
export interface SlotInfo {
  name: string;
  /** Output plugin (`pgoutput` for koyo's slots); `null` for physical slots. */
  plugin: string | null;
  type: 'logical' | 'physical';
  /** Database of a logical slot. */
  database: string | null;
  temporary: boolean;
  /** Whether a process is streaming from the slot right now. */
  active: boolean;
  /** PID of the process holding the slot (a walsender, or a session). */
  activePid: number | null;
  /** Oldest WAL the slot keeps. */
  restartLsn: bigint | null;
  /** Everything before this position was confirmed by a consumer. */
  confirmedFlushLsn: bigint | null;
  /** Bytes of WAL between the confirmed position and the server's current position. */
  lagBytes: number | null;
  /** Bytes of WAL the slot keeps on disk (current position minus `restartLsn`). */
  retainedBytes: number | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (see PostgreSQL's docs of pg_replication_slots). */
  walStatus: string | null;
  /** Bytes of WAL that can still be written before the slot is in danger of being invalidated; `null` when unlimited. */
  safeWalSize: number | null;
  twoPhase: boolean;
  /** PostgreSQL 17+: whether the slot is synchronised to standbys for failover; `null` before 17. */
  failover: boolean | null;
  /** Whether the slot can no longer be used (WAL removed, or a conflict on a standby). */
  invalidated: boolean;
  /** PostgreSQL 17+: why the slot was invalidated; on older servers `wal_removed` when `walStatus` is `lost`. */
  invalidationReason: string | null;
}

/** @internal columns that exist only on newer servers. */
function slotSelect(version: number): string {
  const invalidation =
    version >= 170000
      ? 'invalidation_reason'
      : version >= 160000
        ? "CASE WHEN wal_status = 'lost' THEN 'wal_removed' WHEN conflicting THEN 'rows_removed' END"
        : "CASE WHEN wal_status = 'lost' THEN 'wal_removed' END";
  return `
    WITH pos AS (
      SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn
    )
    SELECT slot_name::text AS name, plugin::text AS plugin, slot_type AS type, database::text AS database,
           temporary, active, active_pid, restart_lsn::text AS restart_lsn,
           confirmed_flush_lsn::text AS confirmed_flush_lsn,
           (pos.lsn - confirmed_flush_lsn)::text AS lag_bytes,
           (pos.lsn - restart_lsn)::text AS retained_bytes,
           wal_status, safe_wal_size::text AS safe_wal_size,
           ${version >= 140000 ? 'two_phase' : 'false'} AS two_phase,
           ${version >= 170000 ? 'failover' : 'NULL::bool'} AS failover,
           (${invalidation})::text AS invalidation_reason
      FROM pg_replication_slots, pos`;
}

function toNumber(text: string | null): number | null {
  return text === null ? null : Number(text);
}

/** @internal reads slots, all or one. */
export async function readSlots(session: SqlSession, name?: string): Promise<SlotInfo[]> {
  const version = await session.serverVersionNum();
  const rows = await session.query(
    `${slotSelect(version)} ${name === undefined ? '' : 'WHERE slot_name = $1'} ORDER BY slot_name`,
    name === undefined ? [] : [name],
  );
  return rows.map((row) => ({
    name: row.name,
    plugin: row.plugin,
    type: row.type,
    database: row.database,
    temporary: row.temporary,
    active: row.active,
    activePid: row.active_pid,
    restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn),
    confirmedFlushLsn: row.confirmed_flush_lsn === null ? null : parseLsn(row.confirmed_flush_lsn),
    lagBytes: toNumber(row.lag_bytes),
    retainedBytes: toNumber(row.retained_bytes),
    walStatus: row.wal_status,
    safeWalSize: toNumber(row.safe_wal_size),
    twoPhase: row.two_phase === true,
    failover: row.failover,
    invalidated: row.invalidation_reason !== null,
    invalidationReason: row.invalidation_reason,
  }));
}
