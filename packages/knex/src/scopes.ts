import * as scopes from '@koyo/router';

/**
 * What a scope returns for `fn`'s result: a Knex builder (a lazy thenable) becomes the Promise of
 * its result, started inside the scope; promises and plain values are returned as they are.
 */
export type Started<T> =
  T extends Promise<unknown> ? T : T extends PromiseLike<infer U> ? Promise<U> : T;

/**
 * Knex builders run when they are awaited, which is after the scope's function returned; so a
 * thenable that is not a Promise is started (its `then` called) inside the scope.
 */
function start<T>(value: T): Started<T> {
  if (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    !(value instanceof Promise)
  ) {
    const then = (value as { then?: unknown }).then;
    if (typeof then === 'function') {
      return new Promise((resolve, reject) => {
        (then as PromiseLike<unknown>['then']).call(value, resolve, reject);
      }) as Started<T>;
    }
  }
  return value as Started<T>;
}

/**
 * `readFromPrimary` of `@koyo/router` for Knex: every read inside `fn` (across awaits) goes to the
 * primary. A builder returned directly is started inside the scope, so both forms work.
 *
 * @example
 * const fresh = await readFromPrimary(() => knex('orders').where({ id }).first());
 */
export function readFromPrimary<T>(fn: () => T): Started<T> {
  return scopes.readFromPrimary(() => start(fn()));
}

/**
 * `readFromReplica` of `@koyo/router` for Knex: reads go to replicas even when the default role is
 * `'primary'`; writes still go to the primary. Starts a returned builder inside the scope.
 *
 * @example
 * const n = await readFromReplica(() => knex('users').count('* as n').first());
 */
export function readFromReplica<T>(fn: () => T): Started<T> {
  return scopes.readFromReplica(() => start(fn()));
}

/**
 * `skipTransactions` of `@koyo/router` for Knex: `knex.transaction(...)` inside `fn` sends no
 * BEGIN/COMMIT, so its reads may use replicas. Only for code that does not write.
 *
 * @example
 * await skipTransactions(() => knex.transaction((trx) => trx('reports').select('*')));
 */
export function skipTransactions<T>(fn: () => T): Started<T> {
  return scopes.skipTransactions(() => start(fn()));
}

/**
 * `blockTransactions` of `@koyo/router` for Knex: opening a transaction inside `fn` rejects with
 * `KoyoRouterError` code `TRANSACTION_BLOCKED`.
 *
 * @example
 * await blockTransactions(() => renderDashboard());
 */
export function blockTransactions<T>(fn: () => T): Started<T> {
  return scopes.blockTransactions(() => start(fn()));
}

/**
 * `withSession` of `@koyo/router` for Knex: a fresh routing session (read-your-writes position,
 * handle-form transactions), typically one per request or job.
 *
 * @example
 * app.use((req, res, next) => withSession(next));
 */
export function withSession<T>(fn: () => T): Started<T> {
  return scopes.withSession(() => start(fn()));
}
