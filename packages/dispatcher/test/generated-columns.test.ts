import { diagnose } from '@koyo/slot';
import { testCluster } from '@koyo/testing/vitest';
import { describe, expect, it } from 'vitest';
import type { Change, DispatcherOptions } from '../src/index.js';
import { fileDb, freshDispatchers } from './helpers.js';

const db = fileDb(
  'disp_gencols',
  'CREATE TABLE priced (id int PRIMARY KEY, net numeric NOT NULL, gross numeric GENERATED ALWAYS AS (net * 1.2) STORED)',
);
const fresh = freshDispatchers(db, 'gencols', { tables: ['priced'] });

/** The changes of `priced` a started dispatcher made with `options` delivers. */
async function collecting(options: Partial<DispatcherOptions> = {}) {
  const fixture = fresh(options);
  const changes: Change[] = [];
  fixture.dispatcher.onTable('priced', (c) => void changes.push(c));
  await fixture.dispatcher.start();
  return { ...fixture, changes };
}

describe('stored generated columns', () => {
  it('are in change.new on PostgreSQL 18+ (equal to the SELECT); absent before 18', async () => {
    const { dispatcher: d, publication, changes } = await collecting();
    await db.query('INSERT INTO priced (id, net) VALUES (1, 10)');
    await db.query('UPDATE priced SET net = 20 WHERE id = 1');
    await d.drain();
    const rows = await db.query('SELECT * FROM priced');
    await d.stop();
    expect(changes.map((c) => c.kind)).toEqual(['insert', 'update']);
    if (testCluster().major >= 18) {
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
  });

  it('publishGeneratedColumns: false leaves them out on every version', async () => {
    const { dispatcher: d, changes } = await collecting({ publishGeneratedColumns: false });
    await db.query('INSERT INTO priced (id, net) VALUES (2, 5)');
    await d.drain();
    await d.stop();
    expect(changes.map((c) => c.new)).toEqual([{ id: 2, net: '5' }]);
  });
});
