import { Router } from './router.js';
import type { RouterConfig } from './router-options.js';

/**
 * Builds the routing core over nodes given by an adapter. Most apps use `createRoutedPool`
 * (`@koyo/router/pg`) or `createRoutedSql` (`@koyo/router/postgres`) instead; bindings for other
 * drivers build on this.
 *
 * @example
 * const router = createRouter({
 *   primary: { name: 'primary', handle: primaryPool, probe: (q) => primaryPool.query(q).then((r) => Object.values(r.rows[0])[0] as string | null) },
 *   replicas: [{ name: 'replica1', handle: replicaPool, probe: ... }],
 *   maxLag: { bytes: 16 * 1024 * 1024 },
 * });
 * await router.execute('SELECT 1', (d) => d.handle!.query('SELECT 1'));
 */
export function createRouter<N>(config: RouterConfig<N>): Router<N> {
  return new Router(config);
}
