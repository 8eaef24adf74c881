/**
 * @internal a client checked out of a routed `pg.Pool` (`pool.connect()`, `pool.transaction()`):
 * its statements go through the router (policies, logs, read-your-writes, a raw BEGIN binds it as
 * the context's transaction) until it is released.
 *
 * Why this replaces methods on pg's object: `pool.connect()` must hand back a real
 * `pg.PoolClient` (libraries such as Drizzle's node-postgres driver call `client.query` and
 * `client.release` on it), and pg has no hook on a client's queries. So `query` and `release` of
 * the checked-out client are swapped for routed ones, and put back on release; the client's own
 * `query` stays reachable under {@link ORIGINAL_QUERY} for the driver contract's `run`.
 */
import type pg from 'pg';
import { KoyoRouterError } from './errors.js';
import { ORIGINAL_QUERY, pgDriver, routeQueryCall } from './pg-driver.js';
import type { Router } from './router.js';

/** @internal transaction state of a pinned client. */
export interface Pinned {
  inTransaction: boolean;
  attached: boolean;
  helper: boolean;
}

/** The result a suppressed BEGIN/COMMIT/ROLLBACK resolves with (see `skipTransactions`). */
export function skippedResult(command: string): pg.QueryResult {
  return { command, rowCount: null, oid: 0, rows: [], fields: [] };
}

/** @internal the state of each pinned client. */
export const pinnedState = new WeakMap<pg.PoolClient, Pinned>();

/** The result of a BEGIN/COMMIT/ROLLBACK text suppressed by `skipTransactions`. */
export function skippedStatement(text: string): pg.QueryResult {
  return skippedResult(text.trim().split(/\s+/, 1)[0]!.toUpperCase());
}

/** Checks out a client of the current primary and pins it (see {@link pin}). */
export async function connectPinned(router: Router<pg.Pool>): Promise<pg.PoolClient> {
  if (router.closed) throw new KoyoRouterError('CLOSED', 'This routed pool was closed with end().');
  // Following the primary: a connection refused (nothing sent yet) waits for the new primary.
  const client = await router.withPrimary((primary) => pgDriver.pin(primary));
  pin(router, client);
  return client;
}

/** Routes a checked-out primary client's statements through the router (policies, logs, read-your-writes) until release. */
export function pin(router: Router<pg.Pool>, client: pg.PoolClient): Pinned {
  const original = client.query;
  const originalRelease = client.release;
  const state: Pinned = { inTransaction: false, attached: false, helper: false };
  const bound = original.bind(client) as (...args: unknown[]) => Promise<pg.QueryResult>;
  (client as unknown as Record<symbol, unknown>)[ORIGINAL_QUERY] = bound;
  (client as unknown as { query: unknown }).query = (...args: any[]): any => {
    return routeQueryCall(args, bound, (text) =>
      router.execute(
        text,
        async (d) => {
          const result = await bound(...args);
          const control =
            d.classification.command === 'MULTI' ? null : d.classification.transactionControl;
          if (control === 'begin') {
            state.inTransaction = true;
            if (!state.helper) state.attached = router.attachTransaction(client);
          } else if (control === 'commit' || control === 'rollback') {
            state.inTransaction = false;
            if (state.attached) router.detachTransaction(client);
            state.attached = false;
          }
          return result;
        },
        {
          pinned: client,
          inTransaction: state.inTransaction,
          skip: skippedStatement,
        },
      ),
    );
  };
  client.release = (release?: boolean | Error) => {
    if (state.attached) router.detachTransaction(client);
    state.attached = false;
    (client as unknown as { query: unknown }).query = original;
    delete (client as unknown as Record<symbol, unknown>)[ORIGINAL_QUERY];
    client.release = originalRelease;
    return originalRelease.call(client, release);
  };
  pinnedState.set(client, state);
  return state;
}
