import { clusterPerFile } from '@koyo/testing/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, createKoyoLogger, KoyoDispatcherError } from '../src/index.js';
import { dispatcherFor, dropSlot, fileDb, publishedTables, uniqueName } from './helpers.js';

const db = fileDb(
  'disp_setup',
  'CREATE TABLE a (id int PRIMARY KEY)',
  'CREATE TABLE b (id int PRIMARY KEY)',
);

describe('setup', () => {
  it('creates the publication for `tables` and the slot, and logs gem-style lines', async () => {
    const slot = uniqueName('setup');
    const publication = uniqueName('setup_pub');
    const lines: string[] = [];
    const d = createDispatcher({
      connection: db.url,
      slot,
      publication,
      tables: ['a'],
      logger: createKoyoLogger({ write: (line) => void lines.push(line) }),
    });
    const ids: number[] = [];
    d.onChange((c) => void ids.push(c.id as number));
    await d.start();
    await db.query('INSERT INTO a VALUES (1)');
    await db.query('INSERT INTO b VALUES (1)');
    await d.drain();
    expect(ids).toEqual([1]);
    const tables = await publishedTables(db, publication);
    expect(tables.map((t) => t.tablename)).toEqual(['a']);
    const slots = await db.query<{ plugin: string }>(
      'SELECT plugin FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    expect(slots).toEqual([{ plugin: 'pgoutput' }]);
    await d.stop();
    expect(
      lines.some((line) =>
        /^source=koyo logid=[0-9a-f]{10} level=info message="dispatcher started" slot=\w+/.test(
          line,
        ),
      ),
    ).toBe(true);
    expect(
      lines.some((line) =>
        /^source=koyo logid=[0-9a-f]{10} level=info message="dispatcher stopped"/.test(line),
      ),
    ).toBe(true);
    await dropSlot(db, slot);
  });

  it('uses an existing publication as it is when `tables` is not given', async () => {
    const publication = uniqueName('setup_existing');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE b`);
    const slot = uniqueName('setup_existing');
    const d = dispatcherFor(db, { slot, publication });
    const seen: string[] = [];
    d.onChange((c) => void seen.push(`${c.table}:${String(c.id)}`));
    await d.start();
    await db.query('INSERT INTO a VALUES (2)');
    await db.query('INSERT INTO b VALUES (2)');
    await d.drain();
    expect(seen).toEqual(['b:2']);
    await d.stop();
    await dropSlot(db, slot);
  });

  it('says what to do when the slot or publication is missing and creating them is off', async () => {
    const noSlot = dispatcherFor(db, { tables: ['a'], createSlot: false });
    noSlot.onChange(() => undefined);
    await expect(noSlot.start()).rejects.toMatchObject({
      code: 'SETUP_FAILED',
      message: expect.stringContaining('pg_create_logical_replication_slot'),
    });
    await expect(noSlot.closed).rejects.toBeInstanceOf(KoyoDispatcherError);
    const noPublication = dispatcherFor(db, { createPublication: false });
    noPublication.onChange(() => undefined);
    await expect(noPublication.start()).rejects.toMatchObject({
      code: 'SETUP_FAILED',
      message: expect.stringContaining('CREATE PUBLICATION'),
    });
  });

  it('rejects bad options with INVALID_OPTION naming the option', () => {
    expect(() =>
      createDispatcher({ connection: db.url, slot: 'Bad-Slot', publication: 'p' }),
    ).toThrow(/slot must be/);
    expect(() =>
      createDispatcher({ connection: db.url, slot: 'ok', publication: 'p', concurrency: 0 }),
    ).toThrow(/concurrency must be an integer >= 1/);
    const d = dispatcherFor(db, { tables: ['a'] });
    expect(() => d.onTable('b', () => undefined)).toThrow(
      /outside the dispatcher's `tables` option/,
    );
    expect(() => d.onTable('a', { inserts: () => undefined } as never)).toThrow(
      /not a change kind/,
    );
  });
});

describe('a setup that cannot succeed changes nothing', () => {
  const cluster = clusterPerFile({ replicas: 0, settings: { wal_level: 'replica' } });
  beforeAll(async () => {
    await cluster.primary.query('CREATE TABLE a (id int PRIMARY KEY)');
  });

  it('wal_level = replica: start() fails with SETUP_FAILED (WAL_LEVEL) and leaves no publication behind', async () => {
    const before = await cluster.primary.query(
      'SELECT (SELECT count(*)::int FROM pg_publication) AS publications, (SELECT count(*)::int FROM pg_replication_slots) AS slots',
    );
    const d = createDispatcher({
      connection: cluster.primary.url,
      slot: 'wl_slot',
      publication: 'wl_pub',
      tables: ['a'],
      logger: false,
    });
    d.onChange(() => undefined);
    await expect(d.start()).rejects.toMatchObject({
      code: 'SETUP_FAILED',
      cause: { code: 'WAL_LEVEL' },
      message: expect.stringContaining('ALTER SYSTEM SET wal_level = logical'),
    });
    await expect(d.closed).rejects.toMatchObject({ code: 'SETUP_FAILED' });
    expect(before).toEqual([{ publications: 0, slots: 0 }]);
    expect(
      await cluster.primary.query(
        'SELECT (SELECT count(*)::int FROM pg_publication) AS publications, (SELECT count(*)::int FROM pg_replication_slots) AS slots',
      ),
    ).toEqual(before);
  });
});
