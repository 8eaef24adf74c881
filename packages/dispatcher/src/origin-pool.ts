import {
  ensureOrigin,
  missingOriginPrivileges,
  originGrantStatements,
  type OriginFunction,
  type ConnectionOptions,
  type Queryable,
} from '@koyo/slot';
import pg from 'pg';
import { connectPlain, poolConfig } from './_connection.js';
import { asError, KoyoDispatcherError } from './errors.js';
import type { Change } from './types.js';

/** What every origin-tagged session needs: create the origin on first use, set it up. */
const REQUIRED: readonly OriginFunction[] = [
  'pg_replication_origin_create(text)',
  'pg_replication_origin_session_setup(text)',
];

/** Options of {@link OriginPool.transaction}. */
export interface OriginTransactionOptions {
  /**
   * Record this change's transaction as the origin's progress, in the same transaction as your
   * writes (`pg_replication_origin_xact_setup(commitLsn, commitTime)`): once it commits,
   * {@link OriginPool.progress} is at least this change's `commitLsn`. Needs EXECUTE on
   * `pg_replication_origin_xact_setup(pg_lsn, timestamp with time zone)`.
   */
  recordOriginProgress?: Pick<Change, 'commitLsn' | 'commitTime'>;
}

/** @internal how the pool opens its one session. */
export interface OriginPoolConfig {
  /** One host, or several (the pool connects to the writable one). */
  connection: ConnectionOptions;
  /** The replication origin the session is tagged with. */
  origin: string;
  /** How long a new session waits for another one to let go of the origin. */
  waitMs: number;
}

/**
 * A `pg` pool of one connection whose session is tagged with the dispatcher's replication
 * origin (`pg_replication_origin_session_setup`): every transaction written through it carries
 * the origin, and the dispatcher does not deliver it back to itself.
 *
 * One connection, because PostgreSQL lets only one session at a time set up an origin; queries
 * from concurrent handlers wait their turn. Use {@link OriginPool.transaction} for several
 * statements that belong together.
 */
export class OriginPool extends pg.Pool {
  /** The replication origin this pool's session is tagged with (`koyo_<slot>`). */
  readonly origin: string;

  /** @internal created by the dispatcher; use `dispatcher.db`. */
  constructor(config: OriginPoolConfig) {
    super({
      ...poolConfig(config.connection),
      max: 1,
      // An idle session gives the origin back soon, so a standby that takes the slot over after
      // this process lost its stream (but lives on) gets the origin within originWaitMs.
      idleTimeoutMillis: 5_000,
      // pg-pool (3.14+, which our pinned pg brings) awaits onConnect and fails the checkout when
      // it rejects, so no statement ever runs on a session that is not tagged.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited by pg-pool
      onConnect: (client: pg.ClientBase) => setUpOrigin(client, config.origin, config.waitMs),
    });
    this.origin = config.origin;
    // An idle session that the server ends (restart, terminate) must not crash the process:
    // the pool drops it and the next query opens and tags a new one.
    this.on('error', () => undefined);
  }

  /**
   * Runs `fn` in one transaction on the origin-tagged session: BEGIN, your statements, COMMIT
   * (ROLLBACK when `fn` throws, and the error is rethrown).
   *
   * @example
   * dispatcher.onTable('orders', async (change) => {
   *   await dispatcher.db.transaction(async (tx) => {
   *     await tx.query('UPDATE orders SET total = $2 WHERE id = $1', [change.id, 42]);
   *     await tx.query('INSERT INTO audit (order_id) VALUES ($1)', [change.id]);
   *   });
   * });
   */
  async transaction<T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    options: OriginTransactionOptions = {},
  ): Promise<T> {
    const client = await this.connect();
    const progress = options.recordOriginProgress;
    let broken = false;
    let recorded = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      if (progress) {
        // Set up last, with deferred constraints checked first: PostgreSQL 16+ also records the
        // position when a transaction set up this way aborts, so nothing may fail after it but
        // the COMMIT itself.
        await client.query('SET CONSTRAINTS ALL IMMEDIATE');
        recorded = true;
        await client.query('SELECT pg_catalog.pg_replication_origin_xact_setup($1, $2)', [
          progress.commitLsn,
          progress.commitTime,
        ]);
      }
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the session is gone or unusable: do not give it back
      }
      throw broken ? asError(error) : await this.#typed(error, client);
    } finally {
      // The setup outlives the transaction: later writes of this session must not record it.
      if (recorded && !broken)
        await client.query('SELECT pg_catalog.pg_replication_origin_xact_reset()').catch(() => {
          broken = true;
        });
      client.release(broken);
    }
  }

  /**
   * The position last recorded as the origin's progress (`X/Y`), or `null` when none was
   * recorded. Needs EXECUTE on `pg_replication_origin_progress(text, boolean)`.
   */
  async progress(): Promise<string | null> {
    try {
      const { rows } = await this.query<{ lsn: string | null }>(
        'SELECT pg_catalog.pg_replication_origin_progress($1, true)::text AS lsn',
        [this.origin],
      );
      const lsn = rows[0]?.lsn ?? null;
      return lsn === '0/0' ? null : lsn;
    } catch (error) {
      throw await this.#typed(error, this);
    }
  }

  /**
   * Checks, without creating anything, that the role may create and set up the origin; throws
   * `PERMISSION_DENIED` listing the GRANT statements otherwise.
   */
  async checkPrivileges(connection: ConnectionOptions): Promise<void> {
    const client = await connectPlain(connection);
    try {
      await assertPrivileges(client, REQUIRED, this.origin);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * @internal Lets go of the origin, then ends the pool (the dispatcher's `stop()`). A backend
   * frees its origin only when its process exits, some time after the socket closes; resetting
   * first means a `koyo slots drop` or a new dispatcher right after `stop()` finds it free.
   */
  async close(): Promise<void> {
    if (this.ended) return;
    if (this.totalCount > 0) {
      const client = await this.connect().catch(() => null);
      if (client) {
        const failed = await client
          .query('SELECT pg_catalog.pg_replication_origin_session_reset()')
          .then(() => false)
          .catch(() => true);
        client.release(failed);
      }
    }
    await this.end().catch(() => undefined);
  }

  async #typed(error: unknown, client: Queryable): Promise<Error> {
    if (error instanceof KoyoDispatcherError) return error;
    if ((error as { code?: unknown }).code !== '42501') return asError(error);
    return (await privilegeError(client, this.origin, error)) ?? asError(error);
  }
}

/** Creates the origin when missing and tags the session with it, waiting for a previous holder. */
async function setUpOrigin(client: pg.ClientBase, origin: string, waitMs: number): Promise<void> {
  try {
    await ensureOrigin(client, origin);
  } catch (error) {
    throw (await privilegeError(client, origin, error)) ?? error;
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await client.query('SELECT pg_catalog.pg_replication_origin_session_setup($1)', [origin]);
      return;
    } catch (error) {
      const code = (error as { code?: unknown; cause?: { code?: unknown } }).code;
      if (code === '42501') throw (await privilegeError(client, origin, error)) ?? error;
      if (code !== '55006') throw error;
      // Another session has it: a second dispatcher on this slot, or the backend of a killed
      // process that the server has not reaped yet. Wait a bounded time for it to go.
      if (Date.now() >= deadline)
        throw new KoyoDispatcherError(
          'ORIGIN_ACTIVE',
          `Replication origin "${origin}" is still set up by another session after ${waitMs} ms (${asError(error).message}). ` +
            'Stop the other process that writes through dispatcher.db for this slot (only one may at a time), or raise originWaitMs if a killed process is slow to be noticed by the server.',
          { cause: error },
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** `PERMISSION_DENIED` naming the exact GRANTs, or `undefined` when nothing is missing. */
async function privilegeError(
  client: Queryable,
  origin: string,
  cause: unknown,
): Promise<KoyoDispatcherError | undefined> {
  const inner = (cause as { cause?: unknown })?.cause ?? cause;
  const code = (inner as { code?: unknown; sqlState?: unknown })?.code;
  const state = (inner as { sqlState?: unknown })?.sqlState ?? code;
  if (state !== '42501' && (cause as { code?: unknown })?.code !== 'PERMISSION_DENIED')
    return undefined;
  // Only a refused origin function or catalog is ours to explain; a table privilege is not.
  if (!/replication_origin/.test(String((inner as { message?: unknown })?.message)))
    return undefined;
  try {
    await assertPrivileges(client, undefined, origin, cause);
  } catch (error) {
    if (error instanceof KoyoDispatcherError) return error;
  }
  return undefined;
}

async function assertPrivileges(
  client: Queryable,
  functions: readonly OriginFunction[] | undefined,
  origin: string,
  cause?: unknown,
): Promise<void> {
  const { role, missing } = await missingOriginPrivileges(client, functions);
  if (missing.length === 0) return;
  throw new KoyoDispatcherError(
    'PERMISSION_DENIED',
    `Role "${role}" may not use replication origins, which loop-safe writes from handlers (dispatcher.db, origin "${origin}") need: ` +
      `it lacks EXECUTE on ${missing.join(', ')}. Run as a superuser:\n${originGrantStatements(role, missing).join('\n')}`,
    cause === undefined ? undefined : { cause },
  );
}
