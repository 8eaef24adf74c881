import {
  dropSlotWhenReleased,
  lateBound,
  openPooledDatabase,
  uniqueName,
  type PooledTestDatabase as Db,
} from '@koyo/testing/vitest';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createDispatcher, type Dispatcher, type DispatcherOptions } from '../src/index.js';

export { parseLsn as lsn } from '@koyo/pgoutput';
export {
  uniqueName,
  until as waitFor,
  openPooledDatabase as openDb,
  slotConfirmedFlush as confirmedFlush,
  dropSlotWhenReleased as dropSlot,
  lastRunCatchesUp,
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

/** The tables `publication` publishes, as the server lists them (pg_publication_tables). */
export async function publishedTables(
  db: Db,
  publication: string,
): Promise<{ schemaname: string; tablename: string }[]> {
  return db.query(
    'SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1',
    [publication],
  );
}

/** A dispatcher made by {@link freshDispatchers}, with the names of its slot and publication. */
export interface FreshDispatcher {
  dispatcher: Dispatcher;
  slot: string;
  publication: string;
}

/**
 * Makes the dispatchers of a test file (see {@link dispatcherFor}), each on a fresh slot and
 * publication named after `prefix` unless `options` names them, with the file's `defaults` under
 * each test's `options`. After each test, the dispatchers it made stop and their slots are
 * dropped, also when the test failed.
 *
 * @example
 * const db = fileDb('disp_defer', 'CREATE TABLE t (id int PRIMARY KEY)');
 * const fresh = freshDispatchers(db, 'defer');
 * it('delivers', async () => {
 *   const { dispatcher, slot } = fresh({ tables: ['t'] });
 * });
 */
export function freshDispatchers(
  db: Db,
  prefix: string,
  defaults: Partial<DispatcherOptions> = {},
): (options?: Partial<DispatcherOptions>) => FreshDispatcher {
  const made: FreshDispatcher[] = [];
  afterEach(async () => {
    for (const { dispatcher, slot } of made.splice(0)) {
      // stop() resolves for a stopped or failed dispatcher too (a failure rejects `closed`).
      await dispatcher.stop();
      await dropSlotWhenReleased(db, slot);
    }
  });
  return (own = {}) => {
    const options = { ...defaults, ...own };
    const slot = options.slot ?? uniqueName(prefix);
    const publication = options.publication ?? uniqueName(`${prefix}_pub`);
    const fresh = {
      dispatcher: dispatcherFor(db, { ...options, slot, publication }),
      slot,
      publication,
    };
    made.push(fresh);
    return fresh;
  };
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
