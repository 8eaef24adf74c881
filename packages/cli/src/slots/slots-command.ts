import { formatLsn } from '@koyo/pgoutput';
import { createSlotManager, type SlotInfo } from '@koyo/slot';
import { type CommandSpec, flagValue, type ParsedArgs } from '../args.js';
import { commandContext, resolveConnection, type CliIo } from '../context.js';
import { EXIT } from '../errors.js';
import { formatBytes, renderTable } from '../format.js';

/** One slot as `koyo slots --json` prints it (LSNs as PostgreSQL text, sizes in bytes). */
export interface SlotRow {
  name: string;
  type: 'logical' | 'physical';
  plugin: string | null;
  database: string | null;
  temporary: boolean;
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: string | null;
  restartLsn: string | null;
  lagBytes: number | null;
  retainedBytes: number | null;
  walStatus: string | null;
  safeWalSize: number | null;
  invalidated: boolean;
  invalidationReason: string | null;
}

function toRow(slot: SlotInfo): SlotRow {
  return {
    name: slot.name,
    type: slot.type,
    plugin: slot.plugin,
    database: slot.database,
    temporary: slot.temporary,
    active: slot.active,
    activePid: slot.activePid,
    confirmedFlushLsn: slot.confirmedFlushLsn === null ? null : formatLsn(slot.confirmedFlushLsn),
    restartLsn: slot.restartLsn === null ? null : formatLsn(slot.restartLsn),
    lagBytes: slot.lagBytes,
    retainedBytes: slot.retainedBytes,
    walStatus: slot.walStatus,
    safeWalSize: slot.safeWalSize,
    invalidated: slot.invalidated,
    invalidationReason: slot.invalidationReason,
  };
}

/** Formats slots as the table `koyo slots` prints. */
export function formatSlots(slots: readonly SlotInfo[]): string {
  if (slots.length === 0) return 'No replication slots on this server.\n';
  const rows = slots.map((slot) => [
    slot.name,
    slot.type === 'logical'
      ? `logical/${slot.plugin ?? '?'}${slot.temporary ? ' (temp)' : ''}`
      : 'physical',
    slot.database ?? '-',
    slot.activePid === null ? '-' : String(slot.activePid),
    slot.lagBytes === null ? '-' : formatBytes(slot.lagBytes),
    slot.retainedBytes === null ? '-' : formatBytes(slot.retainedBytes),
    slot.invalidated
      ? `lost (${slot.invalidationReason ?? 'invalidated'})`
      : (slot.walStatus ?? '-'),
    // safe_wal_size: WAL that can still be written before the slot is at risk (null: no limit).
    slot.invalidated
      ? '-'
      : slot.safeWalSize === null
        ? 'unlimited'
        : formatBytes(slot.safeWalSize),
  ]);
  return renderTable(
    ['NAME', 'TYPE', 'DATABASE', 'ACTIVE PID', 'LAG', 'RETAINED', 'WAL STATUS', 'SAFE WAL'],
    rows,
  );
}

/** `koyo slots`: lists every replication slot of the server. */
export async function run(spec: CommandSpec, args: ParsedArgs, io: CliIo): Promise<number> {
  const ctx = await commandContext(spec, args, io);
  const conn = resolveConnection(ctx);
  const manager = createSlotManager(conn.connection);
  try {
    const slots = await manager.listSlots();
    if (flagValue(args, 'json')) io.stdout.write(`${JSON.stringify(slots.map(toRow), null, 2)}\n`);
    else io.stdout.write(formatSlots(slots));
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
