import { diagnose } from '@koyo/slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../src/index.js';
import { dispatcherFor, dropSlot, openDb, uniqueName, type Db } from './helpers.js';

let db: Db;
let version: number;
beforeAll(async () => {
  db = await openDb('disp_gencols');
  await db.query(
    'CREATE TABLE priced (id int PRIMARY KEY, net numeric NOT NULL, gross numeric GENERATED ALWAYS AS (net * 1.2) STORED)',
  );
  const [row] = await db.query<{ v: number }>(
    "SELECT current_setting('server_version_num')::int AS v",
  );
  version = row!.v;
});
afterAll(async () => {
  await db.close();
});

describe('stored generated columns', () => {
  it('are in change.new on PostgreSQL 18+ (equal to the SELECT); absent before 18', async () => {
    const slot = uniqueName('gencols');
    const publication = uniqueName('gencols_pub');
    const d = dispatcherFor(db, { slot, publication, tables: ['priced'] });
    const changes: Change[] = [];
    d.onTable('priced', (c) => void changes.push(c));
    await d.start();
    await db.query('INSERT INTO priced (id, net) VALUES (1, 10)');
    await db.query('UPDATE priced SET net = 20 WHERE id = 1');
    await d.drain();
    const rows = await db.query('SELECT * FROM priced');
    await d.stop();
    expect(changes.map((c) => c.kind)).toEqual(['insert', 'update']);
    if (version >= 180000) {
      expect(changes[1]!.new).toEqual(rows[0]);
      expect(changes[0]!.new).toEqual({ id: 1, net: '10', gross: '12.0' });
    } else {
      // pgoutput before 18 never sends generated columns; diagnose() reports such tables.
      const { gross: _gross, ...withoutGenerated } = rows[0]!;
      expect(changes[1]!.new).toEqual(withoutGenerated);
      expect(await diagnose(db.url, { publication })).toContainEqual(
        expect.objectContaining({
          id: 'generated_columns:public.priced',
          ok: false,
          severity: 'warning',
        }),
      );
    }
    await dropSlot(db, slot);
  });

  it('publishGeneratedColumns: false leaves them out on every version', async () => {
    const slot = uniqueName('gencols_off');
    const publication = uniqueName('gencols_off_pub');
    const d = dispatcherFor(db, {
      slot,
      publication,
      tables: ['priced'],
      publishGeneratedColumns: false,
    });
    const changes: Change[] = [];
    d.onTable('priced', (c) => void changes.push(c));
    await d.start();
    await db.query('INSERT INTO priced (id, net) VALUES (2, 5)');
    await d.drain();
    await d.stop();
    expect(changes.map((c) => c.new)).toEqual([{ id: 2, net: '5' }]);
    await dropSlot(db, slot);
  });
});
