import type { DispatcherOptions } from '@koyo/dispatcher';
import type pg from 'pg';
import { suggest } from './args.js';
import { KoyoCliError } from './errors.js';
import { validateRelaySettings, type RelaySettings } from './relay-config.js';

/**
 * Dispatcher options a config file may set: everything `createDispatcher` takes except what the
 * config names at the top level (`connection`, `slot`, `publication`, `tables`).
 */
export type DispatcherSettings = Omit<
  DispatcherOptions,
  'connection' | 'slot' | 'publication' | 'tables'
>;

/** How `koyo run` reports progress. `auto`: a progress bar on a terminal, plain lines otherwise. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'off';

/** Settings of `koyo run` (its flags override them). */
export interface RunSettings {
  /** Seconds between two stats lines; 0 turns them off. Default 30. */
  statsIntervalSeconds?: number;
  /** Catch-up progress display. Default `'auto'`. */
  progress?: ProgressMode;
}

/**
 * The content of `koyo.config.ts`. Every command reads it when present; `koyo run` needs it.
 *
 * @example
 * // koyo.config.ts
 * import { defineConfig } from '@koyo/cli';
 * export default defineConfig({
 *   connection: process.env.DATABASE_URL,
 *   slot: 'koyo_shop',
 *   publication: 'koyo_shop',
 *   tables: ['users', 'orders'],
 * });
 */
export interface KoyoConfig {
  /**
   * A `postgres://` URL or a `pg` ClientConfig. `--url` overrides it; when it is absent (or
   * `undefined`), `DATABASE_URL` is used.
   */
  connection?: string | pg.ClientConfig | undefined;
  /** The logical replication slot (1-63 characters of `a-z`, `0-9`, `_`). */
  slot: string;
  /** The publication the slot streams. */
  publication: string;
  /**
   * Tables of the publication (`'users'` or `'schema.users'`), for `koyo setup` and the
   * publication `koyo run` creates. `'*'`: every table (`FOR ALL TABLES`, asked explicitly).
   * Omitted: the existing publication is used as it is (`koyo run` and `koyo setup --apply`
   * refuse to create one without tables).
   */
  tables?: string[] | '*';
  /** The handlers file, relative to the config file. Default `'./koyo.handlers.ts'`. */
  handlers?: string;
  /** Options passed to `createDispatcher` (concurrency, retry, onError, deadLetter, ...). */
  dispatcher?: DispatcherSettings;
  /** Settings of `koyo run`. */
  run?: RunSettings;
  /** Settings of `koyo relay nats` (publish changes into NATS JetStream for a worker fleet). */
  relay?: RelaySettings;
}

/**
 * Types a `koyo.config.ts` file: returns its argument unchanged, so the editor checks and
 * completes every option.
 *
 * @example
 * import { defineConfig } from '@koyo/cli';
 * export default defineConfig({ slot: 'koyo_app', publication: 'koyo_app', tables: ['users'] });
 */
export function defineConfig(config: KoyoConfig): KoyoConfig {
  return config;
}

const KEYS = [
  'connection',
  'slot',
  'publication',
  'tables',
  'handlers',
  'dispatcher',
  'run',
  'relay',
] as const;
const RUN_KEYS = ['statsIntervalSeconds', 'progress'] as const;
const PROGRESS: readonly ProgressMode[] = ['auto', 'bar', 'lines', 'off'];
/** PostgreSQL's rule for slot names. */
export const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
/** @koyo/slot's rule for publication names (always quoted, used as written). */
export const PUBLICATION_NAME = /^[A-Za-z0-9_$-]{1,63}$/;

function invalid(file: string, message: string): KoyoCliError {
  return new KoyoCliError('CONFIG_INVALID', `${file}: ${message}`);
}

function closest(key: string, keys: readonly string[]): string {
  const match = suggest(key, keys);
  return match ? ` (did you mean "${match}"?)` : '';
}

/**
 * Checks what a config file exported and returns it typed. Unknown keys (typos), names PostgreSQL
 * would refuse, and values of the wrong type are `CONFIG_INVALID` errors naming the file and the
 * key. `slot` and `publication` may be absent here; commands that need them say so.
 */
export function validateConfig(value: unknown, file: string): Partial<KoyoConfig> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(
      file,
      `the default export must be an object (use export default defineConfig({ ... })), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  const config = value as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw invalid(
        file,
        `unknown option "${key}"${closest(key, KEYS)}; the options are ${KEYS.join(', ')}`,
      );
    }
  }
  const { connection, slot, publication, tables, handlers, dispatcher, run } = config;
  if (
    connection !== undefined &&
    typeof connection !== 'string' &&
    (typeof connection !== 'object' || connection === null)
  ) {
    throw invalid(file, 'connection must be a postgres:// URL or a pg ClientConfig object');
  }
  if (typeof connection === 'string' && connection.length === 0) {
    throw invalid(
      file,
      'connection is an empty string (is the environment variable it reads set?)',
    );
  }
  if (slot !== undefined && (typeof slot !== 'string' || !SLOT_NAME.test(slot))) {
    throw invalid(
      file,
      `slot must be 1-63 characters of a-z, 0-9 and _, as PostgreSQL requires (got ${JSON.stringify(slot)})`,
    );
  }
  if (
    publication !== undefined &&
    (typeof publication !== 'string' || !PUBLICATION_NAME.test(publication))
  ) {
    throw invalid(
      file,
      `publication must be 1-63 characters of letters, digits, _, $ and - (got ${JSON.stringify(publication)})`,
    );
  }
  if (
    tables !== undefined &&
    tables !== '*' &&
    (!Array.isArray(tables) || tables.some((t) => typeof t !== 'string' || t.length === 0))
  ) {
    throw invalid(
      file,
      "tables must be an array of table names, e.g. ['users', 'billing.invoices'], or '*' for every table (FOR ALL TABLES)",
    );
  }
  if (handlers !== undefined && (typeof handlers !== 'string' || handlers.length === 0)) {
    throw invalid(
      file,
      "handlers must be a path relative to the config file, e.g. './koyo.handlers.ts'",
    );
  }
  if (
    dispatcher !== undefined &&
    (typeof dispatcher !== 'object' || dispatcher === null || Array.isArray(dispatcher))
  ) {
    throw invalid(file, 'dispatcher must be an object of createDispatcher options');
  }
  if (dispatcher !== undefined) {
    for (const key of ['connection', 'slot', 'publication', 'tables']) {
      if (key in dispatcher)
        throw invalid(file, `set ${key} at the top level of the config, not in dispatcher`);
    }
  }
  if (run !== undefined) {
    if (typeof run !== 'object' || run === null || Array.isArray(run))
      throw invalid(file, 'run must be an object');
    const settings = run as Record<string, unknown>;
    for (const key of Object.keys(settings)) {
      if (!(RUN_KEYS as readonly string[]).includes(key))
        throw invalid(file, `unknown option "run.${key}"; the options are ${RUN_KEYS.join(', ')}`);
    }
    const interval = settings.statsIntervalSeconds;
    if (
      interval !== undefined &&
      (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0)
    ) {
      throw invalid(file, 'run.statsIntervalSeconds must be a number >= 0 (0 turns stats off)');
    }
    if (settings.progress !== undefined && !PROGRESS.includes(settings.progress as ProgressMode)) {
      throw invalid(file, `run.progress must be one of ${PROGRESS.join(', ')}`);
    }
  }
  validateRelaySettings(config.relay, file);
  return config;
}
