// The one place where @koyo/knex changes a Knex instance after Knex built it. Everything else
// goes through Knex's public extension point, a client class (`client: KoyoClient`, as Knex's
// own dialects are written). Two things have no hook there:
// - the handle form of a transaction (`const trx = await knex.transaction()`, no container) looks
//   to the client exactly like `knex.transaction(fn)`; only the instance's `context._transaction`
//   (built by Knex's makeKnex) still sees whether a container was given, so it is wrapped to mark
//   the config. The router attaches handle-form transactions to the current `withSession()`.
// - `knex.migrate` and `knex.seed` are getters that build a Migrator/Seeder per access, whose
//   calls read bookkeeping tables right after writing them through builders of their own; the
//   getters are replaced to wrap every method in `readFromPrimary`.
import { readFromPrimary } from '@koyo/router';
import type { Knex } from 'knex';

/**
 * Set on a transaction config when `knex.transaction()` was called without a container.
 *
 * @internal
 */
export const HANDLE_FORM = Symbol('koyo.knex.handleForm');

/**
 * Marks handle-form transactions and sends migrations and seeds to the primary (see the top of
 * this module for why these two need a patch).
 *
 * @internal
 */
export function patchKnexInstance(instance: Knex): void {
  const context = (instance as unknown as { context: Record<string, unknown> }).context;
  const originalTransaction = context._transaction as (
    container: unknown,
    config: unknown,
    outerTx: unknown,
  ) => unknown;
  context._transaction = function (
    this: unknown,
    container: unknown,
    config: Record<string, unknown> | undefined,
    outerTx: unknown,
  ) {
    return originalTransaction.call(
      this,
      container,
      container ? config : { ...config, [HANDLE_FORM]: true },
      outerTx,
    );
  };

  // Migrations and seeds read their bookkeeping tables right after writing them: primary only.
  for (const property of ['migrate', 'seed'] as const) {
    const descriptor = Object.getOwnPropertyDescriptor(instance, property);
    const get = descriptor?.get;
    if (get === undefined) continue;
    Object.defineProperty(instance, property, {
      configurable: true,
      get(this: Knex) {
        return onPrimary(get.call(this) as object);
      },
    });
  }
}

/** Wraps every method of a Migrator/Seeder so the whole call runs in `readFromPrimary`. */
function onPrimary<T extends object>(target: T): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value = Reflect.get(obj, key, receiver) as unknown;
      if (typeof value !== 'function' || key === 'constructor') return value;
      return (...args: unknown[]) =>
        readFromPrimary(() => (value as (...a: unknown[]) => unknown).apply(obj, args));
    },
  });
}
