import type { CommandSpec, ParsedArgs } from './args.js';
import type { CliIo } from './context.js';

/**
 * One `koyo` command: what it accepts (its flags and the text of its `--help`) and what it does.
 * Each module of `src/commands/` exports the spec of one; `main` lists the commands.
 *
 * @example
 * const slotsCommand: Command = { spec: slotsSpec, run: async (args, io) => EXIT.OK };
 */
export interface Command {
  spec: CommandSpec;
  /**
   * Runs the command with its parsed flags and resolves with the exit code. `signal` aborts a
   * long-running command (`tail`) as SIGINT does.
   */
  run(args: ParsedArgs, io: CliIo, signal: AbortSignal): Promise<number>;
}

/** Runs a command; as {@link Command.run}, with the command's spec first (for its name and flags). */
export type CommandRun = (
  spec: CommandSpec,
  args: ParsedArgs,
  io: CliIo,
  signal: AbortSignal,
) => Promise<number>;

/** What the implementation module of a command exports: its `run`, given the command's spec. */
export interface CommandImplementation {
  run: CommandRun;
}

/**
 * A {@link Command} whose implementation (and with it pg, @koyo/slot, @koyo/dispatcher, ...) is
 * imported only when the command runs: `koyo --help`, `koyo <command> --help` and usage errors
 * need the spec alone, which stays cheap (it imports only `flags.ts` and types).
 *
 * @example
 * const slotsCommand = lazyCommand(slotsSpec, () => import('./slots/slots-command.js'));
 */
export function lazyCommand(
  spec: CommandSpec,
  load: () => Promise<CommandImplementation>,
): Command {
  return {
    spec,
    run: async (args, io, signal) => (await load()).run(spec, args, io, signal),
  };
}
