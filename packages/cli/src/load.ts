import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig, type KoyoConfig } from './config.js';
import { KoyoCliError, formatError } from './errors.js';
import type { HandlersSetup } from './handlers.js';

/** File names `koyo` looks for, in this order, in the working directory. */
export const CONFIG_FILES = [
  'koyo.config.ts',
  'koyo.config.mts',
  'koyo.config.cts',
  'koyo.config.js',
  'koyo.config.mjs',
  'koyo.config.cjs',
] as const;

/** The handlers file used when the config names none. */
export const DEFAULT_HANDLERS_FILE = './koyo.handlers.ts';

/** A config file that was found and loaded. */
export interface LoadedConfig {
  /** Absolute path of the file. */
  file: string;
  /** What the file exported (validated; `slot`/`publication` may be absent). */
  config: Partial<KoyoConfig>;
}

// Config and handler files `import { defineConfig } from '@koyo/cli'`. The alias resolves that
// to this very CLI, so `npx koyo run` works even where @koyo/cli is not installed locally.
const here = fileURLToPath(import.meta.url);
const selfEntry = here.replace(/load\.(ts|js)$/, 'index.$1');

// jiti is imported when a file is loaded, so `koyo --help` does not pay for it.
async function loader() {
  const { createJiti } = await import('jiti');
  return createJiti(import.meta.url, {
    interopDefault: true,
    moduleCache: false,
    alias: { '@koyo/cli': selfEntry },
  });
}

/** A path for messages: relative to `cwd` when inside it, else absolute. */
export function display(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/**
 * Imports a TypeScript or JavaScript module without a build step (through jiti) and returns its
 * default export. Errors thrown while loading become `code` errors naming the file.
 */
export async function importDefault(
  file: string,
  code: 'CONFIG_INVALID' | 'HANDLERS_INVALID',
  cwd: string,
): Promise<unknown> {
  try {
    return await (await loader()).import(file, { default: true });
  } catch (error) {
    throw new KoyoCliError(code, `could not load ${display(file, cwd)}: ${formatError(error)}`, {
      cause: error,
    });
  }
}

/** The config file to use: `--config` (must exist), else the first of {@link CONFIG_FILES} in `cwd`. */
export function findConfigFile(cwd: string, explicit?: string): string | undefined {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit);
    if (!existsSync(file))
      throw new KoyoCliError('CONFIG_NOT_FOUND', `config file ${explicit} does not exist`);
    return file;
  }
  for (const name of CONFIG_FILES) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * Finds and loads the config file. With `required`, a missing file is a `CONFIG_NOT_FOUND` error
 * that says to run `koyo init`; otherwise it returns `undefined`.
 *
 * @example
 * const loaded = await loadConfig({ cwd: process.cwd(), required: true });
 * loaded?.config.slot; // 'koyo_app'
 */
export async function loadConfig(options: {
  cwd: string;
  file?: string | undefined;
  required?: boolean;
}): Promise<LoadedConfig | undefined> {
  const file = findConfigFile(options.cwd, options.file);
  if (file === undefined) {
    if (options.required) {
      throw new KoyoCliError(
        'CONFIG_NOT_FOUND',
        `no koyo.config.ts in ${options.cwd}: run 'koyo init' to create one, or pass --config FILE`,
      );
    }
    return undefined;
  }
  const exported = await importDefault(file, 'CONFIG_INVALID', options.cwd);
  return { file, config: validateConfig(exported, display(file, options.cwd)) };
}

/** Loads the handlers file a config names (default `./koyo.handlers.ts`, next to the config). */
export async function loadHandlers(
  loaded: LoadedConfig,
  cwd: string,
): Promise<{ file: string; setup: HandlersSetup }> {
  const file = resolve(dirname(loaded.file), loaded.config.handlers ?? DEFAULT_HANDLERS_FILE);
  if (!existsSync(file)) {
    throw new KoyoCliError(
      'HANDLERS_INVALID',
      `handlers file ${display(file, cwd)} does not exist: create it (koyo init writes an example) or set "handlers" in ${display(loaded.file, cwd)}`,
    );
  }
  const setup = await importDefault(file, 'HANDLERS_INVALID', cwd);
  if (typeof setup !== 'function') {
    throw new KoyoCliError(
      'HANDLERS_INVALID',
      `${display(file, cwd)} must export a default function (export default defineHandlers((koyo) => { ... })), got ${setup === null ? 'null' : typeof setup}`,
    );
  }
  return { file, setup: setup as HandlersSetup };
}
