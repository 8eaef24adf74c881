import {
  probePg,
  probePostgres,
  type PgProbeTarget,
  type PostgresProbeTarget,
  type RouterDriver,
} from '@koyo/router';
import type { PgDatabase, PgSession, PgTransaction } from 'drizzle-orm/pg-core';
import type { Driver } from './drivers.js';

/**
 * A transaction bound in the router's context: its driver session (where statements the router
 * sends into it run) and the tx given to the user (whose `transaction()` makes a savepoint).
 *
 * @internal
 */
export interface BoundTransaction {
  readonly session: PgSession;
  readonly tx: PgTransaction<any, any, any>;
}

/** @internal a statement: runs on a node's session or a bound transaction's session. */
export type DrizzleStatement = (session: PgSession) => Promise<unknown>;

/** A transaction opened by {@link RouterDriver.pin}, open until {@link RouterDriver.unpin}. */
interface HeldTransaction extends BoundTransaction {
  readonly end: (broken?: unknown) => Promise<void>;
}

/** @internal the driver session a Drizzle database or transaction runs on. */
export const sessionOf = (db: PgDatabase<any, any, any>): PgSession =>
  (db as unknown as { _: { session: PgSession } })._.session;

/**
 * Drizzle's side of the router's driver contract: a node is a database's session, a pinned
 * connection a transaction bound in the router's context, a statement a function of the session it
 * runs on. Probes run on the database's own client (`$client`), through the core's probe of its
 * driver. Drizzle opens transactions only around a callback, so `pin` opens one that waits for
 * `unpin` (committed, or rolled back when `broken`).
 *
 * @internal
 */
export function drizzleDriver(
  driver: Driver,
  clientOf: (session: PgSession) => unknown,
): RouterDriver<PgSession, BoundTransaction, DrizzleStatement, unknown> {
  return {
    run: (target, statement) => statement('tx' in target ? target.session : target),
    probe:
      driver === 'node-postgres'
        ? (session, sql) => probePg(clientOf(session) as PgProbeTarget, sql)
        : (session, sql) => probePostgres(clientOf(session) as PostgresProbeTarget, sql),
    pin: (session) =>
      new Promise<BoundTransaction>((pinned, failed) => {
        const held = (tx: PgTransaction<any, any, any>) =>
          new Promise<void>((commit, rollback) => {
            // Resolves (or rejects with the COMMIT's error) once the transaction has ended.
            const end = (broken?: unknown): Promise<void> => {
              if (broken === undefined) commit();
              else rollback(broken);
              return ended.then(
                () => undefined,
                (error: unknown) => {
                  if (error !== broken) throw error;
                },
              );
            };
            const transaction: HeldTransaction = { session: sessionOf(tx), tx, end };
            pinned(transaction);
          });
        const ended: Promise<unknown> = session.transaction(held);
        ended.catch(failed);
      }),
    unpin: (bound, broken) => (bound as HeldTransaction).end(broken),
  };
}
