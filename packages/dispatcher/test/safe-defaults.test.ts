// A dispatcher never creates a FOR ALL TABLES publication unless asked (`tables: '*'`), and never
// publishes a table that would then reject its UPDATE and DELETE. Server truth throughout.
import { describe, expect, it } from 'vitest';
import { KoyoDispatcherError } from '../src/index.js';
import { dispatcherFor, dropSlot, fileDb, uniqueName } from './helpers.js';

const db = fileDb(
  'disp_safe',
  'CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE legacy_log (line text)',
);

async function startError(start: Promise<void>): Promise<KoyoDispatcherError> {
  const error = await start.then(
    () => new Error('expected start() to be refused'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KoyoDispatcherError);
  return error as KoyoDispatcherError;
}

async function leftBehind(publication: string, slot: string): Promise<unknown[]> {
  return db.query(
    `SELECT pubname::text AS name FROM pg_publication WHERE pubname = $1
     UNION ALL SELECT slot_name::text FROM pg_replication_slots WHERE slot_name = $2`,
    [publication, slot],
  );
}

describe('safe publication defaults', () => {
  it('without tables and without a publication: PUBLICATION_TABLES_REQUIRED, nothing created', async () => {
    const slot = uniqueName('safe');
    const publication = uniqueName('safe_pub');
    const d = dispatcherFor(db, { slot, publication });
    d.onChange(() => undefined);
    const error = await startError(d.start());
    expect(error.code).toBe('PUBLICATION_TABLES_REQUIRED');
    expect(error.message).toContain("tables: '*'");
    expect(await leftBehind(publication, slot)).toEqual([]);
  });

  it('refuses to publish a table without a primary key (REPLICA_IDENTITY_MISSING), nothing created', async () => {
    const slot = uniqueName('safe');
    const publication = uniqueName('safe_pub');
    const d = dispatcherFor(db, { slot, publication, tables: ['keyed', 'legacy_log'] });
    const error = await startError(d.start());
    expect(error.code).toBe('REPLICA_IDENTITY_MISSING');
    expect(error.message).toContain('public.legacy_log');
    expect(error.message).toContain('REPLICA IDENTITY FULL');
    expect(await leftBehind(publication, slot)).toEqual([]);
    await db.query("INSERT INTO legacy_log VALUES ('x'); DELETE FROM legacy_log");
  });

  it("tables: '*' creates FOR ALL TABLES once every table has an identity", async () => {
    const slot = uniqueName('safe');
    const publication = uniqueName('safe_pub');
    const refused = dispatcherFor(db, { slot, publication, tables: '*' });
    expect((await startError(refused.start())).code).toBe('REPLICA_IDENTITY_MISSING');
    await db.query('ALTER TABLE legacy_log REPLICA IDENTITY FULL');
    const d = dispatcherFor(db, { slot, publication, tables: '*' });
    const seen: string[] = [];
    d.onChange((change) => void seen.push(`${change.kind} ${change.table}`));
    await d.start();
    await db.query("INSERT INTO legacy_log VALUES ('a'); DELETE FROM legacy_log");
    await d.drain();
    await d.stop();
    expect(seen).toEqual(['insert legacy_log', 'delete legacy_log']);
    expect(
      await db.query('SELECT puballtables FROM pg_publication WHERE pubname = $1', [publication]),
    ).toEqual([{ puballtables: true }]);
    await db.query(`DROP PUBLICATION "${publication}"`);
    await dropSlot(db, slot);
  });
});
