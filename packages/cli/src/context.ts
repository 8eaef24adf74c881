import type pg from 'pg';
import { stringValue, type CommandSpec, type ParsedArgs } from './args.js';
import { PUBLICATION_NAME, SLOT_NAME, type KoyoConfig } from './config.js';
import { KoyoCliError } from './errors.js';
import { redactUrl } from './format.js';
import { loadConfig, type LoadedConfig } from './load.js';

/** A writable the CLI prints to (`process.stdout`, or a test double). */
export interface Output {
  write(text: string): unknown;
  /** True on a terminal. */
  isTTY?: boolean | undefined;
}

/** Where a command reads and writes: the process, or a test double. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** A connection and where it came from (for messages). */
export interface ResolvedConnection {
  connection: string | pg.ClientConfig;
  source: '--url' | 'config' | 'DATABASE_URL';
  /** The connection for messages, password hidden. */
  display: string;
}

/** What every database command starts from: the config (if any) and the parsed flags. */
export interface CommandContext {
  spec: CommandSpec;
  args: ParsedArgs;
  io: CliIo;
  loaded: LoadedConfig | undefined;
  config: Partial<KoyoConfig>;
}

/** Loads the config (required or not) for a command. */
export async function commandContext(
  spec: CommandSpec,
  args: ParsedArgs,
  io: CliIo,
  options: { requireConfig?: boolean } = {},
): Promise<CommandContext> {
  const loaded = await loadConfig({
    cwd: io.cwd,
    file: stringValue(args, 'config'),
    required: options.requireConfig ?? false,
  });
  return { spec, args, io, loaded, config: loaded?.config ?? {} };
}

function describeConfig(connection: pg.ClientConfig): string {
  if (typeof connection.connectionString === 'string')
    return redactUrl(connection.connectionString);
  const user = connection.user ?? '';
  const host = connection.host ?? 'localhost';
  const port = connection.port ?? 5432;
  return `postgres://${user ? `${user}@` : ''}${host}:${port}/${connection.database ?? ''}`;
}

/**
 * The connection: `--url`, else `connection` in the config, else `DATABASE_URL`. Throws
 * `NO_CONNECTION` saying where to put one.
 */
export function resolveConnection(ctx: CommandContext): ResolvedConnection {
  const flag = stringValue(ctx.args, 'url');
  if (flag !== undefined) {
    checkUrl(ctx.spec, flag);
    return { connection: flag, source: '--url', display: redactUrl(flag) };
  }
  const fromConfig = ctx.config.connection;
  if (fromConfig !== undefined) {
    return {
      connection: fromConfig,
      source: 'config',
      display: typeof fromConfig === 'string' ? redactUrl(fromConfig) : describeConfig(fromConfig),
    };
  }
  const env = ctx.io.env.DATABASE_URL;
  if (env !== undefined && env.length > 0)
    return { connection: env, source: 'DATABASE_URL', display: redactUrl(env) };
  throw new KoyoCliError(
    'NO_CONNECTION',
    `no database connection: pass --url postgres://user@host:5432/db, set DATABASE_URL, or set connection in ${ctx.loaded ? 'the config file' : 'koyo.config.ts (koyo init writes one)'}`,
  );
}

function checkUrl(spec: CommandSpec, url: string): void {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new KoyoCliError(
      'USAGE',
      `--url must be a postgres:// or postgresql:// URL (got "${redactUrl(url)}")`,
      { command: spec.name },
    );
  }
}

/** Throws the `USAGE` error of a `--slot` value PostgreSQL would refuse as a slot name. */
export function checkSlotName(spec: CommandSpec, name: string): void {
  if (!SLOT_NAME.test(name)) {
    throw new KoyoCliError(
      'USAGE',
      `--slot must be 1-63 characters of a-z, 0-9 and _, as PostgreSQL requires (got "${name}")`,
      { command: spec.name },
    );
  }
}

/** Throws the `USAGE` error of a `--publication` value that is not a valid publication name. */
export function checkPublicationName(spec: CommandSpec, name: string): void {
  if (!PUBLICATION_NAME.test(name)) {
    throw new KoyoCliError(
      'USAGE',
      `--publication must be 1-63 characters of letters, digits, _, $ and - (got "${name}")`,
      { command: spec.name },
    );
  }
}

/** A slot name from `--slot` (checked: a bad one is a usage error) or the config. */
export function slotName(ctx: CommandContext): string | undefined {
  const flag = stringValue(ctx.args, 'slot');
  if (flag !== undefined) checkSlotName(ctx.spec, flag);
  return flag ?? ctx.config.slot;
}

/** A publication name from `--publication` (checked) or the config. */
export function publicationName(ctx: CommandContext): string | undefined {
  const flag = stringValue(ctx.args, 'publication');
  if (flag !== undefined) checkPublicationName(ctx.spec, flag);
  return flag ?? ctx.config.publication;
}

/** Like {@link slotName}, but a missing value is a `MISSING_VALUE` error. */
export function requireSlot(ctx: CommandContext): string {
  const name = slotName(ctx);
  if (name === undefined)
    throw new KoyoCliError(
      'MISSING_VALUE',
      `koyo ${ctx.spec.name} needs a slot: pass --slot NAME or set slot in koyo.config.ts`,
    );
  return name;
}

/** Like {@link publicationName}, but a missing value is a `MISSING_VALUE` error. */
export function requirePublication(ctx: CommandContext): string {
  const name = publicationName(ctx);
  if (name === undefined) {
    throw new KoyoCliError(
      'MISSING_VALUE',
      `koyo ${ctx.spec.name} needs a publication: pass --publication NAME or set publication in koyo.config.ts`,
    );
  }
  return name;
}
