import { KoyoSlotError } from './errors.js';
import { formatBytes } from './format-bytes.js';
import { quoteLiteral } from './identifiers.js';
import type { SqlSession } from './session.js';
import { readSlots, type SlotInfo } from './slot-info.js';
import { keepBytesOf, type Fail, type Pass, type ServerFacts } from './diagnose-types.js';

// Slot safety checks of diagnose(): the slot itself (kind, database, validity, holder, lag) and
// the WAL that slots retain (max_slot_wal_keep_size, inactive slots).

const GIB = 1024 ** 3;

/** @internal slot safety: an unlimited `max_slot_wal_keep_size`, and inactive slots that keep WAL. */
export async function checkWalRetention(
  session: SqlSession,
  warningBytes: number | undefined,
  facts: ServerFacts,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const keepBytes = keepBytesOf(facts);
  if (keepBytes < 0) {
    fail(
      'max_slot_wal_keep_size',
      'warning',
      'max_slot_wal_keep_size = -1 (unlimited): a stalled or abandoned slot keeps WAL until the disk is full and the server stops.',
      "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf(); -- size to your disk; a slot past it is invalidated (then recreate it and backfill) instead of the server stopping",
    );
  } else {
    pass(
      'max_slot_wal_keep_size',
      `max_slot_wal_keep_size = ${formatBytes(keepBytes)}: a slot that falls further behind is invalidated instead of filling the disk.`,
    );
  }
  const limit = warningBytes ?? (keepBytes > 0 ? Math.min(GIB, keepBytes / 2) : GIB);
  if (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `inactiveSlotWarningBytes must be a number of bytes >= 0, got ${JSON.stringify(warningBytes)}.`,
    );
  }
  const idle = (await readSlots(session)).filter(
    (s) => !s.active && !s.temporary && !s.invalidated && (s.retainedBytes ?? 0) > limit,
  );
  for (const s of idle) {
    fail(
      `inactive_slot:${s.name}`,
      'warning',
      `Replication slot "${s.name}" (${s.type}${s.database ? `, database ${s.database}` : ''}) is inactive and keeps ${formatBytes(s.retainedBytes ?? 0)} of WAL: it grows until its consumer comes back${keepBytes < 0 ? ' or the disk is full' : ' or the slot is invalidated'}.`,
      `Start its consumer, or drop it if it is abandoned: SELECT pg_drop_replication_slot(${quoteLiteral(s.name)});`,
    );
  }
  if (idle.length === 0)
    pass('inactive_slots', `No inactive slot keeps more than ${formatBytes(limit)} of WAL.`);
}

/** @internal the slot: pgoutput, this database, not invalidated, who holds it, its lag. */
export function checkSlot(
  name: string,
  slot: SlotInfo | undefined,
  facts: ServerFacts,
  pass: Pass,
  fail: Fail,
): void {
  if (!slot) {
    fail(
      'slot',
      'error',
      `Replication slot "${name}" does not exist.`,
      `SELECT pg_create_logical_replication_slot(${quoteLiteral(name)}, 'pgoutput');`,
    );
    return;
  }
  const recreate = `SELECT pg_drop_replication_slot(${quoteLiteral(name)}); SELECT pg_create_logical_replication_slot(${quoteLiteral(name)}, 'pgoutput'); -- the changes the old slot kept are lost: resynchronise`;
  if (slot.type !== 'logical' || slot.plugin !== 'pgoutput') {
    fail(
      'slot',
      'error',
      `Replication slot "${name}" is a ${slot.type} slot with plugin ${slot.plugin ?? 'none'}; koyo needs a logical slot with pgoutput.`,
      recreate,
    );
    return;
  }
  if (slot.database !== facts.db) {
    fail(
      'slot',
      'error',
      `Replication slot "${name}" belongs to database "${slot.database ?? ''}", not "${facts.db}".`,
      `Connect to database "${slot.database ?? ''}", or create a slot in "${facts.db}".`,
    );
    return;
  }
  pass(
    'slot',
    `Replication slot "${name}" exists (pgoutput${slot.twoPhase ? ', two-phase' : ''}${slot.temporary ? ', temporary' : ''}).`,
  );

  if (slot.invalidated) {
    fail(
      'slot_invalidated',
      'error',
      `Replication slot "${name}" is invalidated (${slot.invalidationReason ?? 'wal_status = lost'}): the WAL it needs is gone and it can never stream again.`,
      recreate,
    );
  } else {
    pass(
      'slot_invalidated',
      `Replication slot "${name}" is valid (wal_status = ${slot.walStatus ?? 'unknown'}).`,
    );
  }

  if (slot.activePid !== null) {
    pass(
      'slot_active',
      `Replication slot "${name}" is held by PID ${slot.activePid}: another stream on it waits until that process lets go.`,
      `SELECT pg_terminate_backend(${slot.activePid}); -- only to take the slot over`,
    );
  } else {
    pass('slot_active', `Replication slot "${name}" is free: no process streams from it now.`);
  }

  const retained = slot.retainedBytes ?? 0;
  const lag = slot.lagBytes ?? 0;
  const keepBytes = keepBytesOf(facts);
  const base = `Slot "${name}" is ${formatBytes(lag)} behind and keeps ${formatBytes(retained)} of WAL`;
  if (keepBytes < 0) {
    pass(
      'slot_lag',
      `${base}; max_slot_wal_keep_size = -1, so a stalled consumer can fill the disk.`,
      `ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf(); -- size to your disk`,
    );
  } else if (slot.walStatus === 'unreserved' || retained >= keepBytes * 0.8) {
    fail(
      'slot_lag',
      'warning',
      `${base}, close to max_slot_wal_keep_size = ${formatBytes(keepBytes)}: the slot will be invalidated if the consumer does not catch up.`,
      `Start or speed up the consumer, or: ALTER SYSTEM SET max_slot_wal_keep_size = '${Math.ceil((keepBytes * 2) / 1024 / 1024)}MB'; SELECT pg_reload_conf();`,
    );
  } else {
    pass('slot_lag', `${base}, within max_slot_wal_keep_size = ${formatBytes(keepBytes)}.`);
  }
}
