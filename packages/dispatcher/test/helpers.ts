import type { ChildProcess } from 'node:child_process';
import {
  exited,
  lateBound,
  openPooledDatabase,
  until,
  uniqueName,
  type PooledTestDatabase as Db,
} from '@koyo/testing/vitest';
import { afterAll, beforeAll } from 'vitest';
import { createDispatcher, type Dispatcher, type DispatcherOptions } from '../src/index.js';

export { parseLsn as lsn } from '@koyo/pgoutput';
export {
  uniqueName,
  until as waitFor,
  openPooledDatabase as openDb,
  slotConfirmedFlush as confirmedFlush,
  dropSlotWhenReleased as dropSlot,
  type PooledTestDatabase as Db,
} from '@koyo/testing/vitest';

/** A dispatcher on the test database with a fresh slot and publication, and a silent logger. */
export function dispatcherFor(db: Db, options: Partial<DispatcherOptions> = {}): Dispatcher {
  return createDispatcher({
    connection: db.url,
    slot: uniqueName('slot'),
    publication: uniqueName('pub'),
    logger: false,
    statusIntervalMs: 200,
    ...options,
  });
}

/**
 * The test file's database: opened (and `statements` run, in order) in `beforeAll`, closed in
 * `afterAll`. Use it in tests and hooks, not at the top level (it is not open yet there).
 *
 * @example
 * const db = fileDb('disp_order', 'CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)');
 */
export function fileDb(prefix: string, ...statements: string[]): Db {
  let current: Db | undefined;
  beforeAll(async () => {
    current = await openPooledDatabase(prefix);
    for (const statement of statements) await current.query(statement);
  });
  afterAll(async () => {
    await current?.close();
  });
  return lateBound(`${prefix}: the database`, () => current);
}

/**
 * The end of a crash test: waits (up to `timeoutMs`, checking every `intervalMs`) until
 * `caughtUp()` holds for the last child, then stops the child gracefully (SIGTERM) and waits for
 * it to exit.
 *
 * @example
 * await lastRunCatchesUp(final, () => allHandled(outFile), 300_000, 100);
 * expect(final.exitCode).toBe(0);
 */
export async function lastRunCatchesUp(
  final: ChildProcess,
  caughtUp: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs: number,
): Promise<void> {
  await until(caughtUp, 'the last run to catch up', timeoutMs, intervalMs);
  final.kill('SIGTERM');
  await exited(final);
}
