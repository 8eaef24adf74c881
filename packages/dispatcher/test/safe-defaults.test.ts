// A dispatcher never creates a FOR ALL TABLES publication unless asked (`tables: '*'`), and never
// publishes a table that would then reject its UPDATE and DELETE. Server truth throughout.
import { describe, expect, it } from 'vitest';
import { KoyoDispatcherError, type KoyoDispatcherErrorCode } from '../src/index.js';
import { fileDb, freshDispatchers } from './helpers.js';

const db = fileDb(
  'disp_safe',
  'CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE legacy_log (line text)',
);

const fresh = freshDispatchers(db, 'safe');

/** Asserts that `start` is refused with a KoyoDispatcherError of `code` whose message names each of `hints`. */
async function expectRefused(
  start: Promise<void>,
  code: KoyoDispatcherErrorCode,
  ...hints: string[]
): Promise<void> {
  await expect(start).rejects.toBeInstanceOf(KoyoDispatcherError);
  await expect(start).rejects.toMatchObject({ code });
  for (const hint of hints) await expect(start).rejects.toThrow(hint);
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
    const { dispatcher: d, slot, publication } = fresh();
    d.onChange(() => undefined);
    await expectRefused(d.start(), 'PUBLICATION_TABLES_REQUIRED', "tables: '*'");
    expect(await leftBehind(publication, slot)).toEqual([]);
  });

  it('refuses to publish a table without a primary key (REPLICA_IDENTITY_MISSING), nothing created', async () => {
    const { dispatcher: d, slot, publication } = fresh({ tables: ['keyed', 'legacy_log'] });
    await expectRefused(
      d.start(),
      'REPLICA_IDENTITY_MISSING',
      'public.legacy_log',
      'REPLICA IDENTITY FULL',
    );
    expect(await leftBehind(publication, slot)).toEqual([]);
    await db.query("INSERT INTO legacy_log VALUES ('x'); DELETE FROM legacy_log");
  });

  it("tables: '*' creates FOR ALL TABLES once every table has an identity", async () => {
    const { dispatcher: refused, slot, publication } = fresh({ tables: '*' });
    await expectRefused(refused.start(), 'REPLICA_IDENTITY_MISSING');
    await db.query('ALTER TABLE legacy_log REPLICA IDENTITY FULL');
    const { dispatcher: d } = fresh({ slot, publication, tables: '*' });
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
  });
});
