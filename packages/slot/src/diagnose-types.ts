import type { ConnectionOptions } from './connection.js';

/** What to diagnose: a slot, a publication, or both. */
export interface DiagnoseTarget {
  /** The replication slot to check (exists, pgoutput, this database, not invalidated, holder, lag). */
  slot?: string;
  /** The publication to check (exists, tables covered, replica identity, right to create it). */
  publication?: string;
  /**
   * Also check replication origins (loop-safe writes from handlers): that the role may use the
   * origin functions (with the GRANTs when not), the slot's origin, and koyo origins whose slot is
   * gone (orphans).
   */
  origins?: boolean;
  /**
   * Also check the failover set-up (PostgreSQL 17+): the slot is a failover slot, the primary's
   * `synchronized_standby_slots` names the standbys' physical slots, and each standby has
   * `sync_replication_slots = on`, `hot_standby_feedback = on`, a `primary_slot_name`, a
   * `dbname` in `primary_conninfo`, and the slot synchronised. The standbys checked are the other
   * hosts of a multi-host connection (`postgres://primary,standby/db`), or {@link standbys}.
   * Default: on PostgreSQL 17+, when the connection names several hosts, `standbys` is given or
   * the slot is a failover slot (so `koyo doctor --url 'postgres://h1,h2/db'` checks it).
   */
  failover?: boolean;
  /** With `failover`: the standbys to check, instead of the other hosts of the connection. */
  standbys?: readonly ConnectionOptions[];
  /**
   * An inactive slot (no consumer streams from it) that retains more WAL than this is flagged:
   * the disk fills until its consumer returns or it is dropped. Default: 1 GiB, or half of
   * `max_slot_wal_keep_size` when that is smaller. `Infinity` turns the check off.
   */
  inactiveSlotWarningBytes?: number;
}

/** The result of one check of {@link diagnose}. */
export interface DiagnosticCheck {
  /** Stable id, e.g. `wal_level`, `slot`, `replica_identity:public.orders`. */
  id: string;
  /** Whether the check passed. */
  ok: boolean;
  /** `error`: replication cannot work; `warning`: it works but something will go wrong; `info`: for your information. */
  severity: 'error' | 'warning' | 'info';
  /** What was found, in a sentence. */
  message: string;
  /** The SQL or configuration line that fixes the problem; `null` when there is nothing to do. */
  fix: string | null;
}

/** @internal records a passed check (severity `info`). */
export type Pass = (id: string, message: string, fix?: string) => void;

/** @internal records a failed check. */
export type Fail = (
  id: string,
  severity: 'error' | 'warning',
  message: string,
  fix?: string,
) => void;

/**
 * @internal what the first query of a diagnosis learns about the server and the role
 * (`version_num`, `wal_level`, `db`, `usr`, slot and sender counts, `keep_mb`, privileges).
 */
export type ServerFacts = Record<string, any>;

/** @internal `max_slot_wal_keep_size` in bytes, `-1` when unlimited. */
export function keepBytesOf(facts: ServerFacts): number {
  const keepMb = facts.keep_mb as string | number | null;
  return keepMb === null ? -1 : Number(keepMb) * 1024 * 1024;
}
