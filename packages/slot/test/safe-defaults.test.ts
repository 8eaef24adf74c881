// koyo never publishes every table unless asked, and never publishes a table that would then
// reject its UPDATE and DELETE (no primary key, no replica identity). Server truth throughout.
import { createTestDatabase, rejection, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KoyoSlotError, type SetupSpec } from '../src/index.js';
import { sql, withManager } from './_helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('slot_safe');
  await sql(
    db.url,
    `CREATE TABLE keyed (id int PRIMARY KEY, note text);
     CREATE TABLE legacy_log (line text);
     CREATE TABLE nothing_ident (id int PRIMARY KEY); ALTER TABLE nothing_ident REPLICA IDENTITY NOTHING;
     CREATE TABLE full_ident (line text); ALTER TABLE full_ident REPLICA IDENTITY FULL;
     CREATE TABLE index_ident (code text NOT NULL); CREATE UNIQUE INDEX index_ident_code ON index_ident (code);
     ALTER TABLE index_ident REPLICA IDENTITY USING INDEX index_ident_code;
     INSERT INTO legacy_log VALUES ('first')`,
  );
});
afterAll(async () => {
  await sql(
    db.url,
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1',
    [db.name],
  );
  await db.drop();
});

async function publications(): Promise<{ pubname: string; puballtables: boolean }[]> {
  return sql(db.url, 'SELECT pubname::text, puballtables FROM pg_publication ORDER BY 1');
}
async function slots(): Promise<string[]> {
  const rows = await sql<{ slot_name: string }>(
    db.url,
    'SELECT slot_name::text FROM pg_replication_slots WHERE database = $1',
    [db.name],
  );
  return rows.map((r) => r.slot_name);
}

function refusal(spec: SetupSpec): Promise<KoyoSlotError> {
  return withManager(db.url, (manager) => rejection(manager.ensureSetup(spec), KoyoSlotError));
}

/** Sets `spec` up after checking that checkSetup finds no problem with it. */
function acceptance(spec: SetupSpec): Promise<void> {
  return withManager(db.url, async (manager) => {
    const check = await manager.checkSetup(spec);
    expect(check.problems).toEqual([]);
    await manager.ensureSetup(spec);
  });
}

describe('a missing publication without tables', () => {
  it('is refused with PUBLICATION_TABLES_REQUIRED, saying how to opt in, and nothing is created', async () => {
    const error = await refusal({ publication: 'no_tables', slot: 'no_tables' });
    expect(error.code).toBe('PUBLICATION_TABLES_REQUIRED');
    expect(error.message).toContain("tables: '*'");
    expect(error.message).toContain('--all-tables');
    expect(await publications()).toEqual([]);
    expect(await slots()).toEqual([]);
  });

  it("is created FOR ALL TABLES only with tables: '*', and refused while a table has no replica identity", async () => {
    const error = await refusal({ publication: 'every', slot: 'every', tables: '*' });
    expect(error.code).toBe('REPLICA_IDENTITY_MISSING');
    expect(error.problems!.map((p) => p.code)).toEqual(['REPLICA_IDENTITY_MISSING']);
    expect(error.message).toContain('public.legacy_log');
    expect(error.message).toContain('public.nothing_ident');
    expect(error.message).not.toContain('public.full_ident');
    expect(error.message).not.toContain('public.index_ident');
    expect(error.message).toContain('REPLICA IDENTITY FULL');
    expect(error.message).toContain('PRIMARY KEY');
    expect(await publications()).toEqual([]);
    // The refusal protected the table: its UPDATE and DELETE still work.
    await sql(db.url, "UPDATE legacy_log SET line = 'edited'");

    await sql(
      db.url,
      'CREATE SCHEMA fixed; ALTER TABLE legacy_log SET SCHEMA fixed; ALTER TABLE fixed.legacy_log REPLICA IDENTITY FULL; ALTER TABLE nothing_ident REPLICA IDENTITY DEFAULT',
    );
    const result = await withManager(db.url, (manager) =>
      manager.ensureSetup({ publication: 'every', slot: 'every', tables: '*' }),
    );
    expect(result.publication.created).toBe(true);
    expect(await publications()).toEqual([{ pubname: 'every', puballtables: true }]);
    await sql(
      db.url,
      "DELETE FROM fixed.legacy_log; DROP PUBLICATION every; SELECT pg_drop_replication_slot('every')",
    );
  });
});

describe('publishing a table without a replica identity', () => {
  it('is refused with REPLICA_IDENTITY_MISSING naming the table and both fixes; nothing is created', async () => {
    await sql(db.url, 'CREATE TABLE nopk (line text); INSERT INTO nopk VALUES (1)');
    const error = await refusal({ publication: 'some', slot: 'some', tables: ['keyed', 'nopk'] });
    expect(error.code).toBe('REPLICA_IDENTITY_MISSING');
    expect(error.message).toContain('public.nopk');
    expect(error.message).not.toContain('public.keyed,');
    expect(error.message).toContain('ALTER TABLE "public"."nopk" REPLICA IDENTITY FULL;');
    expect(await publications()).toEqual([]);
    expect(await slots()).toEqual([]);
    await sql(db.url, 'DELETE FROM nopk');
  });

  it('is refused when added to an existing publication, which keeps its tables', async () => {
    await sql(db.url, 'CREATE PUBLICATION existing FOR TABLE keyed');
    const error = await refusal({
      publication: 'existing',
      slot: 'existing',
      tables: ['keyed', 'nopk'],
    });
    expect(error.code).toBe('REPLICA_IDENTITY_MISSING');
    const published = await sql(
      db.url,
      "SELECT tablename::text FROM pg_publication_tables WHERE pubname = 'existing'",
    );
    expect(published).toEqual([{ tablename: 'keyed' }]);
    await sql(db.url, 'DROP PUBLICATION existing');
  });

  it("is accepted into an existing insert-only publication (publish = 'insert'), whose server accepts UPDATE/DELETE", async () => {
    await sql(
      db.url,
      "CREATE TABLE insert_log (line text); INSERT INTO insert_log VALUES ('a'); CREATE PUBLICATION inserts_only FOR TABLE keyed WITH (publish = 'insert')",
    );
    await acceptance({
      publication: 'inserts_only',
      slot: 'inserts_only',
      tables: ['keyed', 'insert_log'],
    });
    const published = await sql(
      db.url,
      "SELECT tablename::text FROM pg_publication_tables WHERE pubname = 'inserts_only' ORDER BY 1",
    );
    expect(published).toEqual([{ tablename: 'insert_log' }, { tablename: 'keyed' }]);
    // The keyless table is published, and PostgreSQL still runs its UPDATE and DELETE.
    await sql(db.url, "UPDATE insert_log SET line = 'b'; DELETE FROM insert_log");
    // Publishing updates too would break it: that is still refused.
    await sql(db.url, "ALTER PUBLICATION inserts_only SET (publish = 'insert, delete')");
    await sql(db.url, 'ALTER PUBLICATION inserts_only DROP TABLE insert_log');
    const error = await refusal({
      publication: 'inserts_only',
      slot: 'inserts_only',
      tables: ['insert_log'],
    });
    expect(error.code).toBe('REPLICA_IDENTITY_MISSING');
    expect(error.message).toContain('public.insert_log');
    await sql(
      db.url,
      "DROP PUBLICATION inserts_only; SELECT pg_drop_replication_slot('inserts_only'); DROP TABLE insert_log",
    );
  });

  it('is accepted with REPLICA IDENTITY FULL or USING INDEX, and UPDATE/DELETE keep working', async () => {
    await sql(db.url, 'ALTER TABLE nopk REPLICA IDENTITY FULL; INSERT INTO nopk VALUES (2)');
    await acceptance({ publication: 'fixed', slot: 'fixed', tables: ['nopk', 'index_ident'] });
    await sql(
      db.url,
      "UPDATE nopk SET line = '3'; DELETE FROM nopk; INSERT INTO index_ident VALUES ('a'); DELETE FROM index_ident",
    );
    await sql(db.url, "DROP PUBLICATION fixed; SELECT pg_drop_replication_slot('fixed')");
  });
});
