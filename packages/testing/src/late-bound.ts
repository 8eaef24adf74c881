/**
 * A stand-in for a value a `beforeAll` hook creates (a database, a server, a connection), so a
 * test file can name it at the top level: each property read goes to `get()`'s current value,
 * with methods bound to it. Reading it before the hook ran (at the top level) throws.
 *
 * @example
 * let current: Db | undefined;
 * beforeAll(async () => { current = await openPooledDatabase('orders') });
 * const db = lateBound('orders', () => current);
 */
export function lateBound<T extends object>(what: string, get: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const current = get();
      if (!current) throw new Error(`${what}: it opens in beforeAll; use it in tests`);
      const value: unknown = Reflect.get(current, key, current);
      return typeof value === 'function' ? (value as () => unknown).bind(current) : value;
    },
  });
}
