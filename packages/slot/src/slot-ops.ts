import type { Ensured } from './ensured.js';
import { asPgError, invalidatedSlotAdvice, KoyoSlotError } from './errors.js';
import { assertSlotName } from './identifiers.js';
import { mapSqlError } from './management-errors.js';
import type { SqlSession } from './session.js';
import { readSlots, type SlotInfo } from './slot-info.js';

// The slot statements of the slot manager: create a slot or check that the existing one fits,
// and drop one (terminating its holder on request). Each runs on the manager's session.

/** Options of {@link SlotManager.ensureSlot}. */
export interface EnsureSlotOptions {
  /** Decode prepared transactions at PREPARE time (two-phase commit). Default false. */
  twoPhase?: boolean;
  /** PostgreSQL 17+: synchronise the slot to standbys so it survives a failover. Default false. */
  failover?: boolean;
  /**
   * A slot that lives only as long as this manager's session: it is dropped by {@link SlotManager.close}
   * or when the session ends, and is held by that session, so a replication stream cannot use it.
   * Useful for short-lived checks; a consumer needs a permanent slot. Default false.
   */
  temporary?: boolean;
}

/** Options of {@link SlotManager.dropSlot}. */
export interface DropSlotOptions {
  /**
   * Terminate the process holding the slot (and the session holding its replication origin),
   * then drop it. Default false (an active slot is an error).
   */
  force?: boolean;
  /**
   * Keep the slot's replication origin (`koyo_<slot>`, see {@link originNameForSlot}). Default
   * false: it is dropped with the slot, as nothing else uses it.
   */
  keepOrigin?: boolean;
}

/** @internal see {@link SlotManager.ensureSlot}. */
export async function ensureSlotOn(
  session: SqlSession,
  name: string,
  options: EnsureSlotOptions,
): Promise<Ensured<SlotInfo>> {
  assertSlotName(name);
  for (const key of ['twoPhase', 'failover', 'temporary'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw new KoyoSlotError('INVALID_OPTION', `ensureSlot option ${key} must be a boolean.`);
    }
  }
  try {
    const version = await session.serverVersionNum();
    if (options.failover === true && version < 170000) {
      throw new KoyoSlotError(
        'UNSUPPORTED',
        `Failover slots need PostgreSQL 17 or newer; this server is ${Math.floor(version / 10000)}. Drop the failover option. ` +
          "On this version a slot does not survive a promotion: after a failover, create the slot on the new primary and backfill (createDispatcher({ ..., backfill: 'initial' }) or `koyo run --backfill`), " +
          "or keep slots across failovers with your HA tool (Patroni's permanent slots, the pg_failover_slots extension).",
      );
    }
    let created = false;
    let [slot] = await readSlots(session, name);
    if (!slot) {
      const args = [name, 'pgoutput', options.temporary ?? false, options.twoPhase ?? false];
      const sql =
        version >= 170000
          ? 'SELECT 1 FROM pg_create_logical_replication_slot($1, $2, $3, $4, $5)'
          : 'SELECT 1 FROM pg_create_logical_replication_slot($1, $2, $3, $4)';
      try {
        await session.query(sql, version >= 170000 ? [...args, options.failover ?? false] : args);
        created = true;
      } catch (error) {
        if (asPgError(error)?.code !== '42710') throw error;
      }
      [slot] = await readSlots(session, name);
      if (!slot)
        throw new KoyoSlotError(
          'SLOT_NOT_FOUND',
          `Replication slot "${name}" vanished right after it was created; was it dropped concurrently?`,
        );
    }
    if (!created) {
      checkExistingSlot(slot, options);
      await checkSlotDatabase(session, slot);
    }
    return { created, value: slot };
  } catch (error) {
    throw mapSqlError(error, { slot: name });
  }
}

/** An existing slot is used only if it fits: never silently replaced. */
function checkExistingSlot(slot: SlotInfo, options: EnsureSlotOptions): void {
  const recreate = `Drop it (dropSlot("${slot.name}")) and create it again if you can afford to skip the changes it kept, or use another slot name.`;
  if (slot.type !== 'logical' || slot.plugin !== 'pgoutput') {
    throw new KoyoSlotError(
      'SLOT_MISMATCH',
      `Replication slot "${slot.name}" exists but is a ${slot.type} slot with plugin ${slot.plugin ?? 'none'}; koyo needs a logical slot with pgoutput. ${recreate}`,
    );
  }
  if (slot.invalidated) {
    throw new KoyoSlotError(
      'SLOT_INVALIDATED',
      `Replication slot "${slot.name}" was invalidated (${slot.invalidationReason ?? 'wal_status = lost'}): the WAL it needed is gone. ${invalidatedSlotAdvice(slot.name)}`,
    );
  }
  if (options.twoPhase !== undefined && options.twoPhase !== slot.twoPhase) {
    throw new KoyoSlotError(
      'SLOT_MISMATCH',
      `Replication slot "${slot.name}" exists with twoPhase = ${slot.twoPhase}, not ${options.twoPhase}. ${recreate}`,
    );
  }
  if (
    options.failover !== undefined &&
    slot.failover !== null &&
    options.failover !== slot.failover
  ) {
    throw new KoyoSlotError(
      'SLOT_MISMATCH',
      `Replication slot "${slot.name}" exists with failover = ${slot.failover}, not ${options.failover}. Change it on a replication connection (psql "dbname=... replication=database" -c 'ALTER_REPLICATION_SLOT ${slot.name} (FAILOVER ${String(options.failover)})'), or ${recreate}`,
    );
  }
  if (options.temporary !== undefined && options.temporary !== slot.temporary) {
    throw new KoyoSlotError(
      'SLOT_MISMATCH',
      `Replication slot "${slot.name}" exists with temporary = ${slot.temporary}, not ${options.temporary}. ${recreate}`,
    );
  }
}

async function checkSlotDatabase(session: SqlSession, slot: SlotInfo): Promise<void> {
  const [row] = await session.query<{ db: string }>('SELECT current_database()::text AS db');
  if (slot.database !== row?.db) {
    throw new KoyoSlotError(
      'SLOT_MISMATCH',
      `Replication slot "${slot.name}" belongs to database "${slot.database ?? ''}", not "${row?.db ?? ''}". Connect to that database, or use another slot name.`,
    );
  }
}

/**
 * @internal drops the slot (not its origin); an active slot needs `force`, which terminates its
 * holder and retries until the holder has let go (30 s at most).
 */
export async function dropSlotOn(
  session: SqlSession,
  name: string,
  options: DropSlotOptions,
): Promise<boolean> {
  assertSlotName(name);
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      const [slot] = await readSlots(session, name);
      if (!slot) return false;
      const [self] = await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (slot.activePid !== null && slot.activePid !== self?.pid) {
        if (!options.force) {
          throw new KoyoSlotError(
            'SLOT_ACTIVE',
            `Replication slot "${name}" is in use by PID ${slot.activePid}. Stop that consumer first, or call dropSlot("${name}", { force: true }) to terminate it.`,
          );
        }
        await session.query('SELECT pg_terminate_backend($1)', [slot.activePid]);
      }
      try {
        await session.query('SELECT pg_drop_replication_slot($1)', [name]);
        return true;
      } catch (error) {
        const code = asPgError(error)?.code;
        if (code === '42704') return false;
        // The holder is still exiting (or a new one took it): look again until the deadline.
        if (code !== '55006' || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    throw mapSqlError(error, { slot: name });
  }
}
