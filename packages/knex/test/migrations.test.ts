import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routedKnex, type RoutedKnex } from '../src/index.js';
import { queryUrl, recorder } from './_helpers.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const migrations = { directory: join(fixtures, 'migrations'), loadExtensions: ['.cjs'] };
let db: TestDatabase;
let knex: RoutedKnex;
const rec = recorder();

beforeAll(async () => {
  db = await createTestDatabase('knex_migrate');
  knex = routedKnex({
    primary: { client: 'pg', connection: db.url, pool: { min: 0, max: 3 }, migrations },
    replicas: db.replicaUrls.map((url) => ({
      client: 'pg',
      connection: url,
      pool: { min: 0, max: 2 },
    })),
    logger: rec.logger,
  });
});
afterAll(async () => {
  await knex?.destroy();
  await db?.drop();
});

describe('migrations and seeds', () => {
  it('run every statement on the primary, with and without a transaction', async () => {
    rec.clear();
    const [batch, files] = (await knex.migrate.latest()) as [number, string[]];
    expect(batch).toBe(1);
    expect(files.map((f) => f.replace(/^.*\//, ''))).toEqual([
      '001_create_users.cjs',
      '002_add_name.cjs',
      '003_outside_transaction.cjs',
    ]);
    const logged = rec.queries();
    expect(logged.length).toBeGreaterThan(10);
    expect(logged.filter((e) => e.role !== 'primary')).toEqual([]);
    // Server-side proof from inside the transaction-less migration.
    expect(
      await queryUrl(
        db.url,
        "SELECT port, r, users, has_table FROM proofs WHERE step = 'migration'",
      ),
    ).toEqual([{ port: db.cluster.primary.port, r: false, users: 1, has_table: true }]);
    expect(await queryUrl(db.url, 'SELECT name FROM knex_migrations ORDER BY id')).toEqual([
      { name: '001_create_users.cjs' },
      { name: '002_add_name.cjs' },
      { name: '003_outside_transaction.cjs' },
    ]);
  });

  it('read their bookkeeping from the primary, so a second run finds nothing to do', async () => {
    rec.clear();
    expect(await knex.migrate.latest()).toEqual([1, []]);
    expect(await knex.migrate.currentVersion()).toBe('003');
    expect(rec.queries().filter((e) => e.role !== 'primary')).toEqual([]);
  });

  it('run seeds on the primary', async () => {
    rec.clear();
    await knex.seed.run({ directory: join(fixtures, 'seeds'), loadExtensions: ['.cjs'] });
    expect(rec.queries().filter((e) => e.role !== 'primary')).toEqual([]);
    expect(await queryUrl(db.url, "SELECT port, r, users FROM proofs WHERE step = 'seed'")).toEqual(
      [{ port: db.cluster.primary.port, r: false, users: 2 }],
    );
  });

  it('leave ordinary reads on replicas', async () => {
    rec.clear();
    await knex('knex_migrations').select('name');
    expect(rec.queries().at(-1)!.role).toBe('replica');
  });

  it('roll back on the primary', async () => {
    const [, files] = (await knex.migrate.rollback(undefined, true)) as [number, string[]];
    expect(files).toHaveLength(3);
    expect(await queryUrl(db.url, "SELECT to_regclass('users') IS NULL AS gone")).toEqual([
      { gone: true },
    ]);
  });
});
