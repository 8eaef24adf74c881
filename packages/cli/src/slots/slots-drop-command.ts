import { createSlotManager, originNameForSlot } from '@koyo/slot';
import { type CommandSpec, flagValue, type ParsedArgs } from '../args.js';
import { commandContext, resolveConnection, type CliIo } from '../context.js';
import { EXIT, KoyoCliError } from '../errors.js';
import { formatBytes } from '../format.js';

/** `koyo slots drop NAME [--force]`. */
export async function run(spec: CommandSpec, args: ParsedArgs, io: CliIo): Promise<number> {
  const ctx = await commandContext(spec, args, io);
  const name = args.positionals[0]!;
  if (!/^[a-z0-9_]{1,63}$/.test(name)) {
    throw new KoyoCliError(
      'USAGE',
      `NAME must be a slot name: 1-63 characters of a-z, 0-9 and _ (got "${name}")`,
      { command: spec.name },
    );
  }
  const conn = resolveConnection(ctx);
  const manager = createSlotManager(conn.connection);
  try {
    const slot = await manager.getSlot(name);
    if (!slot)
      throw new KoyoCliError(
        'NOT_FOUND',
        `replication slot "${name}" does not exist (koyo slots lists them)`,
      );
    const force = flagValue(args, 'force');
    const origin = (await manager.listOrigins()).find((o) => o.name === originNameForSlot(name));
    const dropped = await manager.dropSlot(name, { force });
    const terminated = force && slot.activePid !== null;
    // A temporary slot goes away with the session holding it: terminating that session dropped it.
    if (!dropped && !terminated)
      throw new KoyoCliError(
        'NOT_FOUND',
        `replication slot "${name}" does not exist (it was dropped meanwhile)`,
      );
    const held = terminated ? ` (terminated PID ${slot.activePid} first)` : '';
    io.stdout.write(
      `Dropped replication slot "${name}"${held}; it kept ${formatBytes(slot.retainedBytes ?? 0)} of WAL.\n`,
    );
    if (origin)
      io.stdout.write(
        `Dropped its replication origin "${origin.name}" (loop-safe writes of its dispatcher).\n`,
      );
    return EXIT.OK;
  } finally {
    await manager.close();
  }
}
