import { queryUrl, uniqueName } from './test-helpers.js';
import { createTestDatabase, type TestDatabase } from './vitest.js';

/** What {@link openOriginFixture} needs of the dispatcher it makes (a `@koyo/dispatcher` `Dispatcher`). */
export interface OriginFixtureDispatcher {
  /** The dispatcher's replication origin (dropped by `close()`). */
  readonly origin: string;
  stop(): Promise<void>;
}

/** The options {@link openOriginFixture} gives to its dispatcher factory. */
export interface OriginFixtureOptions {
  readonly connection: string;
  readonly slot: string;
  readonly publication: string;
  readonly tables: string[];
  readonly logger: false;
  readonly statusIntervalMs: number;
}

/** A database with an `orders` and an `audit` table and a dispatcher over both. */
export interface OriginFixture<D extends OriginFixtureDispatcher> {
  readonly db: TestDatabase;
  readonly dispatcher: D;
  /** Stops the dispatcher, drops its slot and origin, and drops the database. */
  close(): Promise<void>;
}

/**
 * The set-up of an "origin" test (a handler that writes through the dispatcher's origin-tagged
 * session hears no echo): a fresh test database with `orders (id serial PRIMARY KEY, price int
 * NOT NULL, total int)` and `audit (id serial PRIMARY KEY, order_id int NOT NULL)`, and a
 * dispatcher over both tables made by `create` (e.g. `createDispatcher` of `@koyo/dispatcher`,
 * which this package does not depend on), with its own slot and publication.
 *
 * @example
 * const fixture = await openOriginFixture('knex_origin', createDispatcher);
 * afterAll(() => fixture.close());
 */
export async function openOriginFixture<D extends OriginFixtureDispatcher>(
  prefix: string,
  create: (options: OriginFixtureOptions) => D,
): Promise<OriginFixture<D>> {
  const db = await createTestDatabase(prefix);
  await queryUrl(
    db.url,
    'CREATE TABLE orders (id serial PRIMARY KEY, price int NOT NULL, total int); CREATE TABLE audit (id serial PRIMARY KEY, order_id int NOT NULL)',
  );
  const name = uniqueName(prefix);
  const dispatcher = create({
    connection: db.url,
    slot: name,
    publication: name,
    tables: ['orders', 'audit'],
    logger: false,
    statusIntervalMs: 200,
  });
  return {
    db,
    dispatcher,
    close: async () => {
      await dispatcher.stop();
      await queryUrl(db.url, 'SELECT pg_drop_replication_slot($1)', [name]).catch(() => undefined);
      await queryUrl(db.url, 'SELECT pg_replication_origin_drop($1)', [dispatcher.origin]).catch(
        () => undefined,
      );
      await db.drop();
    },
  };
}
