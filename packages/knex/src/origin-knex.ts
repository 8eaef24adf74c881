import knex, { type Knex } from 'knex';
import type pg from 'pg';
import { ClientPG, type KnexConnection } from './_knex-internals.js';

/** What {@link originKnex} needs of a dispatcher: its origin-tagged pool. */
export interface OriginSource {
  /** `dispatcher.db`: a `pg` pool whose session is tagged with the dispatcher's replication origin. */
  readonly db: pg.Pool;
}

let uid = 0;

/**
 * A Knex instance whose connections come from the dispatcher's origin-tagged pool: what a
 * handler writes through it (queries, `knex.transaction`) is not delivered back to that
 * dispatcher, so it may update the table it listens to. One connection (one session per
 * origin): statements and transactions of concurrent handlers take turns. `destroy()` lets go
 * of the pool without closing it (the dispatcher's `stop()` does).
 *
 * @example
 * import { originKnex } from '@koyo/knex';
 * const db = originKnex(dispatcher);
 * dispatcher.onTable('orders', async (change) => {
 *   await db('orders').where({ id: change.id }).update({ status: 'seen' });
 * });
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Knex's own constraint
export function originKnex<TRecord extends {} = any, TResult = unknown[]>(
  source: OriginSource,
  config: Omit<Knex.Config, 'client' | 'connection' | 'pool' | 'connectionPool'> = {},
): Knex<TRecord, TResult> {
  const pool = source.db;
  // Knex's own pool is bypassed: each acquire checks the pool's one session out, each release
  // gives it back, so Knex never keeps it idle while `dispatcher.db` waits for it.
  class OriginClient extends ClientPG {
    constructor(settings: Record<string, unknown>) {
      super({ ...settings, client: 'pg' });
      (this as unknown as { initializeDriver(): void }).initializeDriver();
    }

    override async acquireConnection(): Promise<KnexConnection> {
      const connection = (await pool.connect()) as pg.PoolClient & KnexConnection;
      connection.__knexUid ??= `__koyoOrigin${++uid}`;
      return connection;
    }

    override releaseConnection(connection: KnexConnection): Promise<void> {
      (connection as pg.PoolClient).release(connection.__knex__disposed !== undefined);
      return Promise.resolve();
    }

    override destroy(callback?: unknown): Promise<void> {
      if (typeof callback === 'function') (callback as () => void)();
      return Promise.resolve();
    }
  }
  return knex<TRecord, TResult>({
    ...config,
    client: OriginClient as unknown as typeof Knex.Client,
  });
}
