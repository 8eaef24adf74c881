import { readFileSync } from 'node:fs';
import {
  formatHelp,
  formatShortUsage,
  parseCommandArgs,
  suggest,
  type CommandSpec,
} from './args.js';
import { lazyCommand, type Command } from './command.js';
import { backfillSpec } from './commands/backfill.js';
import { doctorSpec } from './commands/doctor.js';
import { initSpec } from './commands/init.js';
import { relayNatsSpec } from './commands/relay-nats.js';
import { runSpec } from './commands/run.js';
import { setupSpec } from './commands/setup.js';
import { slotsDropSpec } from './commands/slots-drop.js';
import { slotsSpec } from './commands/slots.js';
import { tailSpec } from './commands/tail.js';
import type { CliIo } from './context.js';
import { EXIT, KoyoCliError, formatError } from './errors.js';

/** What {@link main} may be given besides the arguments; defaults to the process. */
export interface MainOptions extends Partial<CliIo> {
  /** Aborting it stops long-running commands (`tail`) as SIGINT does. */
  signal?: AbortSignal;
}

/**
 * Every command, in the order of `koyo --help`: its spec (from `src/commands/`), and the module
 * that runs it, imported only when it runs.
 */
const COMMANDS: readonly Command[] = [
  lazyCommand(initSpec, () => import('./init/init-command.js')),
  lazyCommand(doctorSpec, () => import('./doctor/doctor-command.js')),
  lazyCommand(setupSpec, () => import('./setup/setup-command.js')),
  lazyCommand(runSpec, () => import('./run/run-command.js')),
  lazyCommand(backfillSpec, () => import('./run/backfill-command.js')),
  lazyCommand(relayNatsSpec, () => import('./relay/relay-nats-command.js')),
  lazyCommand(slotsSpec, () => import('./slots/slots-command.js')),
  lazyCommand(slotsDropSpec, () => import('./slots/slots-drop-command.js')),
  lazyCommand(tailSpec, () => import('./tail/tail-command.js')),
];
const SPECS: readonly CommandSpec[] = COMMANDS.map((command) => command.spec);

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The text of `koyo --help`. */
export function formatMainHelp(): string {
  const lines = [
    'Usage: koyo <command> [options]',
    '',
    'Change handlers for Node apps, fed by PostgreSQL logical replication (pgoutput).',
    '',
    'Commands:',
    ...SPECS.map((spec) => `  ${spec.name.padEnd(14)}${spec.summary}`),
    '',
    'Every command takes --help. The connection comes from --url, else the connection in',
    'koyo.config.ts, else DATABASE_URL.',
    '',
    'Exit codes: 0 success, 1 failure (a failed check, a database error), 2 bad usage.',
  ];
  return `${lines.join('\n')}\n`;
}

function pickCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  const [first, second, ...others] = argv;
  // `koyo slots list` is `koyo slots`.
  const subName = first === 'slots' && second === 'list' ? 'slots' : `${first} ${second}`;
  const sub = COMMANDS.find((candidate) => candidate.spec.name === subName);
  if (sub) return { command: sub, rest: others };
  const command = COMMANDS.find((candidate) => candidate.spec.name === first);
  return command ? { command, rest: argv.slice(1) } : undefined;
}

/**
 * Runs the `koyo` command line and resolves with its exit code: 0 success, 1 failure, 2 bad
 * usage. Errors are printed as one line (with the SQLSTATE of a PostgreSQL error), never as a
 * stack trace. The `koyo` bin is `main(process.argv.slice(2))`.
 *
 * @example
 * const code = await main(['doctor', '--url', 'postgres://postgres@localhost/app']);
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const io: CliIo = {
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
  };
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic =
      first === 'help' && argv[1] !== undefined ? pickCommand(argv.slice(1)) : undefined;
    if (first === 'help' && argv[1] !== undefined && !topic)
      return usage(io, undefined, `unknown command "${argv.slice(1).join(' ')}"`);
    io[first === undefined ? 'stderr' : 'stdout'].write(
      topic ? formatHelp(topic.command.spec) : formatMainHelp(),
    );
    return first === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  const picked = pickCommand(argv);
  const group = SPECS.filter((spec) => spec.name.startsWith(`${first} `)).map((spec) => spec.name);
  if (!picked && group.length > 0) {
    return usage(
      io,
      undefined,
      `koyo ${first} needs a sub-command: ${group.map((name) => `koyo ${name}`).join(', ')}${argv[1] === undefined ? '' : ` (got "${argv[1]}")`}`,
    );
  }
  if (!picked) {
    const hint = suggest(
      first,
      SPECS.map((spec) => spec.name.split(' ')[0]!),
    );
    return usage(
      io,
      undefined,
      `unknown command "${first}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
    );
  }
  const { command, rest } = picked;
  const spec = command.spec;
  const signal = options.signal ?? new AbortController().signal;
  try {
    const args = parseCommandArgs(spec, rest);
    if (args.values.help === true) {
      io.stdout.write(formatHelp(spec));
      return EXIT.OK;
    }
    return await command.run(args, io, signal);
  } catch (error) {
    if (error instanceof KoyoCliError && error.code === 'USAGE')
      return usage(io, spec, error.message);
    io.stderr.write(`koyo ${spec.name}: error: ${formatError(error)}\n`);
    return error instanceof KoyoCliError ? error.exitCode : EXIT.FAILURE;
  }
}

function usage(io: CliIo, spec: CommandSpec | undefined, message: string): number {
  io.stderr.write(`koyo${spec ? ` ${spec.name}` : ''}: ${message}\n`);
  io.stderr.write(
    spec
      ? formatShortUsage(spec)
      : `Usage: koyo <command> [options]\nCommands: ${SPECS.map((c) => c.name).join(', ')}\nRun 'koyo --help' for more.\n`,
  );
  return EXIT.USAGE;
}
