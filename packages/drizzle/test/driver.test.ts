// Drizzle's side of the router's driver contract, on both drivers: probes on the database's own
// client, statements on a session, and pin/unpin as a transaction held open between the two.
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drizzleDriver, sessionOf } from '../src/drizzle-driver.js';
import { DRIVERS, openDb, queryUrl, type AnyDb } from './_helpers.js';

describe.each(DRIVERS)('the driver contract, %s', (driverName) => {
  let test: TestDatabase;
  let node: { db: AnyDb; close: () => Promise<void> };
  const driver = drizzleDriver(driverName, () => Reflect.get(node.db, '$client'));
  const count = async (id: number): Promise<number> =>
    (
      await queryUrl<{ n: number }>(test.url, 'SELECT count(*)::int AS n FROM t WHERE id = $1', [
        id,
      ])
    )[0]!.n;

  beforeAll(async () => {
    test = await createTestDatabase(`drizzle_driver_${driverName.replace('-', '_')}`);
    await queryUrl(test.url, 'CREATE TABLE t (id int PRIMARY KEY)');
    await queryUrl(test.url, 'CREATE TABLE d (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)');
    node = openDb(driverName, test.url);
  });
  afterAll(async () => {
    await node?.close();
    await test?.drop();
  });

  it('probes a node: the first column of the first row as text, or null', async () => {
    expect(await driver.probe(sessionOf(node.db), 'SELECT 41 + 1')).toBe('42');
    expect(await driver.probe(sessionOf(node.db), 'SELECT NULL')).toBeNull();
  });

  it('pins a transaction until unpin: its statements are committed then, or rolled back when broken', async () => {
    const pinned = await driver.pin(sessionOf(node.db));
    await driver.run(pinned, (session) => session.execute(sql`INSERT INTO t VALUES (1)`));
    expect(await count(1)).toBe(0); // not committed while pinned
    await driver.unpin(pinned);
    expect(await count(1)).toBe(1); // committed when unpin resolved

    const broken = await driver.pin(sessionOf(node.db));
    await driver.run(broken, (session) => session.execute(sql`INSERT INTO t VALUES (2)`));
    await driver.unpin(broken, new Error('connection lost'));
    // The same key again: it waits for the first insert's transaction, and succeeds only if that
    // one rolled back.
    const again = await driver.pin(sessionOf(node.db));
    await driver.run(again, (session) => session.execute(sql`INSERT INTO t VALUES (2)`));
    await driver.unpin(again);
    expect(await count(2)).toBe(1);
  });

  it("unpin rejects with the COMMIT's error (a deferred unique violation)", async () => {
    const pinned = await driver.pin(sessionOf(node.db));
    await driver.run(pinned, (session) => session.execute(sql`INSERT INTO d VALUES (1), (1)`));
    const error: unknown = await Promise.resolve(driver.unpin(pinned)).then(
      () => undefined,
      (e: unknown) => e,
    );
    // node-postgres' Drizzle wraps it ("Failed query: commit") with the server's error as cause.
    const server = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    expect(String(server)).toMatch(/duplicate key/);
    const rows = await queryUrl<{ n: number }>(test.url, 'SELECT count(*)::int AS n FROM d');
    expect(rows[0]!.n).toBe(0);
  });
});
