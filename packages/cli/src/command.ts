import type { CommandSpec, ParsedArgs } from './args.js';
import type { CliIo } from './context.js';

/**
 * One `koyo` command: what it accepts (its flags and the text of its `--help`) and what it does.
 * Each module of `src/commands/` exports one; `main` lists them.
 *
 * @example
 * export const slotsCommand: Command = { spec, run: async (args, io) => EXIT.OK };
 */
export interface Command {
  spec: CommandSpec;
  /**
   * Runs the command with its parsed flags and resolves with the exit code. `signal` aborts a
   * long-running command (`tail`) as SIGINT does.
   */
  run(args: ParsedArgs, io: CliIo, signal: AbortSignal): Promise<number>;
}
