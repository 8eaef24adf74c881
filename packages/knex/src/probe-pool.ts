import type pg from 'pg';
import type { PgClientLike } from './_knex-internals.js';

/**
 * A one-connection `pg` pool on the server of a node's Knex client, for the router's health and
 * lag probes (they never wait behind the app's queries in Knex's pool). Pushed onto `pools`, which
 * the routed instance ends on `destroy()`.
 *
 * @internal
 */
export async function probePool(client: PgClientLike, pools: pg.Pool[]): Promise<pg.Pool> {
  const c = client as unknown as {
    driver: typeof pg;
    connectionSettings: unknown;
    connectionConfigProvider?: () => Promise<unknown>;
  };
  let settings = c.connectionSettings;
  // Knex's `connection: async () => config` form: resolved on first use.
  if (settings === undefined && typeof c.connectionConfigProvider === 'function')
    settings = await c.connectionConfigProvider();
  const { expirationChecker: _expirationChecker, ...rest } = (
    typeof settings === 'string' ? { connectionString: settings } : (settings ?? {})
  ) as pg.PoolConfig & {
    expirationChecker?: unknown;
  };
  const config: pg.PoolConfig = rest;
  const pool = new c.driver.Pool({
    ...config,
    max: 1,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
  });
  // A node that goes away kills the idle probe connection; the next probe reports the failure.
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}
