import { asPgError, KoyoSlotError } from './errors.js';
import { quoteIdent } from './identifiers.js';
import type { Queryable } from './table-resolve.js';

/**
 * Replication origins (`pg_replication_origin`): the tag PostgreSQL puts on a transaction written
 * by a session that called `pg_replication_origin_session_setup(name)`. pgoutput names the tag in
 * an Origin message, so a consumer can skip its own writes (loop-safe writes from handlers).
 */

/** Prefix of the origins koyo creates; `koyo_<slot>` belongs to the slot `<slot>`. */
export const ORIGIN_PREFIX = 'koyo_';

/**
 * The name of the replication origin a consumer of `slot` tags its writes with: `koyo_<slot>`.
 * `dropSlot` drops it with the slot; `diagnose({ origins: true })` reports one whose slot is gone.
 *
 * @example
 * originNameForSlot('orders'); // 'koyo_orders'
 */
export function originNameForSlot(slot: string): string {
  return `${ORIGIN_PREFIX}${slot}`;
}

/** A replication origin of the server. */
export interface OriginInfo {
  /** `roident`: the id written into the WAL of a tagged transaction. */
  id: number;
  /** `roname`. */
  name: string;
  /**
   * The position last recorded as this origin's progress (`pg_replication_origin_xact_setup`),
   * as `X/Y` text; `null` when none was recorded, or when the role may not read
   * `pg_replication_origin_status`.
   */
  progress: string | null;
}

/**
 * The functions a role uses for origin-tagged writes, with the argument types a GRANT needs.
 * PostgreSQL revokes them from PUBLIC; a superuser has them, any other role needs them granted.
 */
export const ORIGIN_FUNCTIONS = [
  'pg_replication_origin_create(text)',
  'pg_replication_origin_session_setup(text)',
  'pg_replication_origin_xact_setup(pg_lsn, timestamp with time zone)',
  'pg_replication_origin_progress(text, boolean)',
  'pg_replication_origin_drop(text)',
  'pg_replication_origin_session_reset()',
] as const;

/** One of {@link ORIGIN_FUNCTIONS}. */
export type OriginFunction = (typeof ORIGIN_FUNCTIONS)[number];

/**
 * The {@link ORIGIN_FUNCTIONS} the connected role may not execute (empty for a superuser).
 * Reads privileges only; changes nothing.
 */
export async function missingOriginPrivileges(
  client: Queryable,
  functions: readonly OriginFunction[] = ORIGIN_FUNCTIONS,
): Promise<{ role: string; missing: OriginFunction[] }> {
  const { rows } = await client.query(
    `SELECT current_user::text AS role, f AS fn, has_function_privilege(f, 'EXECUTE') AS ok
       FROM unnest($1::text[]) AS f`,
    [functions],
  );
  const role = (rows[0]?.role as string | undefined) ?? '';
  return { role, missing: rows.filter((r) => !r.ok).map((r) => r.fn as OriginFunction) };
}

/** `GRANT EXECUTE ON FUNCTION pg_catalog.f(args) TO "role";` for each function. */
export function originGrantStatements(
  role: string,
  functions: readonly OriginFunction[] = ORIGIN_FUNCTIONS,
): string[] {
  return functions.map(
    (fn) => `GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${quoteIdent(role)};`,
  );
}

/** Every replication origin of the server (the catalog is readable by every role). */
export async function listOrigins(client: Queryable): Promise<OriginInfo[]> {
  // The status view is checked at plan time, even in a branch not taken: ask first.
  const { rows: access } = await client.query(
    "SELECT has_table_privilege('pg_catalog.pg_replication_origin_status', 'SELECT') AS ok",
  );
  const progress = access[0]?.ok
    ? `(SELECT s.remote_lsn::text FROM pg_catalog.pg_replication_origin_status s
         WHERE s.local_id = o.roident AND s.remote_lsn <> '0/0')`
    : 'NULL::text';
  const { rows } = await client.query(
    `SELECT o.roident::int AS id, o.roname::text AS name, ${progress} AS progress
       FROM pg_catalog.pg_replication_origin o ORDER BY o.roname`,
  );
  return rows.map((r) => ({ id: r.id, name: r.name, progress: r.progress ?? null }));
}

/** The replication origin `name`, or `undefined` when it does not exist. */
export async function getOrigin(client: Queryable, name: string): Promise<OriginInfo | undefined> {
  return (await listOrigins(client)).find((o) => o.name === name);
}

/**
 * Creates the replication origin unless it exists. Returns whether it was created. Two sessions
 * creating it at once both succeed (one creates it).
 */
export async function ensureOrigin(client: Queryable, name: string): Promise<boolean> {
  assertOriginName(name);
  if (await getOrigin(client, name)) return false;
  try {
    await client.query('SELECT pg_catalog.pg_replication_origin_create($1)', [name]);
    return true;
  } catch (error) {
    if (asPgError(error)?.code === '23505') return false; // created meanwhile by another session
    throw originError(error, name, await currentRole(client));
  }
}

/**
 * Drops the replication origin; returns false when it did not exist. A session that still has it
 * set up (`pg_replication_origin_session_setup`) blocks the drop: this waits up to `waitMs` for it
 * to let go (a killed client's backend exits once the server notices), then throws
 * `ORIGIN_ACTIVE`; with `force`, it terminates that session instead (`pg_terminate_backend`).
 */
export async function dropOrigin(
  client: Queryable,
  name: string,
  waitMs = 10_000,
  force = false,
): Promise<boolean> {
  assertOriginName(name);
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (!(await getOrigin(client, name))) return false;
    try {
      await client.query('SELECT pg_catalog.pg_replication_origin_drop($1)', [name]);
      return true;
    } catch (error) {
      const code = asPgError(error)?.code;
      if (code === '42704') return false; // dropped meanwhile
      const holder = /PID (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
      if (code === '55006' && force && holder !== undefined) {
        await client.query('SELECT pg_terminate_backend($1)', [Number(holder)]);
      } else if (code !== '55006' || Date.now() > deadline) {
        throw originError(error, name, await currentRole(client));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** @internal typed errors for origin statements: the privilege error lists the GRANTs. */
export function originError(error: unknown, name: string, role?: string): KoyoSlotError {
  if (error instanceof KoyoSlotError) return error;
  const pgError = asPgError(error);
  const message = error instanceof Error ? error.message : String(error);
  if (pgError?.code === '42501') {
    const grants = originGrantStatements(role ?? '<role>').join('\n');
    return new KoyoSlotError(
      'PERMISSION_DENIED',
      `${message}. Replication origin functions are superuser-only unless granted; run as a superuser:\n${grants}`,
      { cause: error },
    );
  }
  if (pgError?.code === '55006') {
    return new KoyoSlotError(
      'ORIGIN_ACTIVE',
      `Replication origin "${name}" is in use by another session (${message}). Stop the process that uses it (a second dispatcher on the same slot), or wait until the server notices that a killed one is gone.`,
      { cause: error },
    );
  }
  return new KoyoSlotError(
    'SERVER_ERROR',
    `PostgreSQL reported an error for replication origin "${name}": ${message}`,
    { cause: error },
  );
}

async function currentRole(client: Queryable): Promise<string | undefined> {
  try {
    return (await client.query('SELECT current_user::text AS role')).rows[0]?.role;
  } catch {
    return undefined;
  }
}

function assertOriginName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 512) {
    throw new KoyoSlotError(
      'INVALID_IDENTIFIER',
      `A replication origin name is 1-512 characters; got ${JSON.stringify(name)}.`,
    );
  }
}
