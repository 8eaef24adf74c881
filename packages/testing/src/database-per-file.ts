import { afterAll, beforeAll } from 'vitest';
import { lateBound } from './late-bound.js';
import { queryUrl, waitForReplay } from './test-helpers.js';
import { createTestDatabase, type TestDatabase } from './vitest.js';

/**
 * For a test file that works in one database of its own on the shared cluster: registers a
 * `beforeAll` that creates it, runs `setup` (statements, in order) on the primary and waits until
 * every replica replayed them, and an `afterAll` that drops it. Returns the database, usable in
 * hooks and tests that run after that `beforeAll`.
 *
 * @example
 * const db = databasePerFile('orders', ['CREATE TABLE orders (id int PRIMARY KEY)']);
 * it('reads', async () => expect(await queryUrl(db.url, 'SELECT 1 AS x')).toEqual([{ x: 1 }]));
 */
export function databasePerFile(prefix: string, setup: readonly string[] = []): TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(prefix);
    for (const statement of setup) await queryUrl(db.url, statement);
    await waitForReplay(db.url, db.replicaUrls);
  });
  afterAll(async () => {
    await db?.drop();
  });
  return lateBound(`the ${prefix} database`, () => db);
}
