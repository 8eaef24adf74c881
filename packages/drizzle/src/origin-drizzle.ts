import type { DrizzleConfig } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type pg from 'pg';

/** What {@link originDrizzle} needs of a dispatcher: its origin-tagged pool. */
export interface OriginSource {
  /** `dispatcher.db`: a `pg` pool whose session is tagged with the dispatcher's replication origin. */
  readonly db: pg.Pool;
}

/**
 * A Drizzle database (node-postgres) over the dispatcher's origin-tagged pool: what a handler
 * writes through it is not delivered back to that dispatcher, so it may update the table it
 * listens to. One connection (one session per origin): statements and transactions of
 * concurrent handlers take turns.
 *
 * @example
 * import { originDrizzle } from '@koyo/drizzle/origin';
 * const db = originDrizzle(dispatcher, { schema });
 * dispatcher.onTable('orders', async (change) => {
 *   await db.update(orders).set({ status: 'seen' }).where(eq(orders.id, Number(change.id)));
 * });
 */
export function originDrizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  source: OriginSource,
  config: DrizzleConfig<TSchema> = {},
): NodePgDatabase<TSchema> & { $client: pg.Pool } {
  return drizzle({ ...config, client: source.db });
}
