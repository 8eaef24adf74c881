import { startCluster } from '@koyo/testing';
import { createTestDatabase, rejection, type TestDatabase } from '@koyo/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KoyoSlotError, resolveTables } from '../src/index.js';
import { managedDatabase, ownCluster, replicaLevelCluster, sql, withManager } from './_helpers.js';

/** What setup could leave behind: every publication (with its tables) and every slot. Server truth. */
async function serverObjects(url: string): Promise<unknown> {
  const [row] = await sql(
    url,
    `SELECT (SELECT coalesce(json_agg(p ORDER BY p.pubname), '[]') FROM (SELECT pubname::text, puballtables FROM pg_publication) p) AS publications,
            (SELECT coalesce(json_agg(t ORDER BY t.pubname, t.schemaname, t.tablename), '[]') FROM (SELECT pubname::text, schemaname::text, tablename::text FROM pg_publication_tables) t) AS published,
            (SELECT coalesce(json_agg(s ORDER BY s.slot_name), '[]') FROM (SELECT slot_name::text, plugin::text, database::text FROM pg_replication_slots) s) AS slots`,
  );
  return row;
}

const refused = (promise: Promise<unknown>): Promise<KoyoSlotError> =>
  rejection(promise, KoyoSlotError);

/** Runs `action` and checks that the server's publications and slots are as they were before it. */
async function leavesServerAsItWas(url: string, action: () => Promise<void>): Promise<void> {
  const before = await serverObjects(url);
  await action();
  expect(await serverObjects(url)).toEqual(before);
}

describe('ensureSetup on wal_level = replica', () => {
  const cluster = ownCluster(replicaLevelCluster);

  it('refuses with WAL_LEVEL before creating the publication: the server is left as it was', async () => {
    const url = cluster.primary.url;
    await leavesServerAsItWas(url, () =>
      withManager(url, async (manager) => {
        const check = await manager.checkSetup({
          publication: 'wl_pub',
          slot: 'wl_slot',
          tables: ['items'],
        });
        expect(check.ok).toBe(false);
        expect(check.problems.map((p) => p.code)).toEqual(['WAL_LEVEL']);
        const error = await refused(
          manager.ensureSetup({ publication: 'wl_pub', slot: 'wl_slot', tables: ['items'] }),
        );
        expect(error.code).toBe('WAL_LEVEL');
        expect(error.message).toMatch(/nothing was changed/);
        expect(error.message).toContain('ALTER SYSTEM SET wal_level = logical');
        expect(error.problems).toHaveLength(1);
      }),
    );
  });
});

describe('ensureSetup with no free replication slot', () => {
  const cluster = ownCluster(async () => {
    const started = await startCluster({ replicas: 0, settings: { max_replication_slots: 1 } });
    await sql(
      started.primary.url,
      "CREATE TABLE items (id int PRIMARY KEY); SELECT pg_create_physical_replication_slot('taken')",
    );
    return started;
  });

  it('refuses with SLOT_LIMIT before creating the publication', async () => {
    const url = cluster.primary.url;
    await leavesServerAsItWas(url, () =>
      withManager(url, async (manager) => {
        const error = await refused(
          manager.ensureSetup({ publication: 'lim_pub', slot: 'lim_slot', tables: ['items'] }),
        );
        expect(error.code).toBe('SLOT_LIMIT');
        expect(error.message).toContain('max_replication_slots');
      }),
    );
  });
});

describe('ensureSetup and resolveTables on a good server', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('slot_setup');
    await sql(
      db.url,
      `CREATE SCHEMA app; CREATE TABLE app.users (id int PRIMARY KEY); CREATE TABLE items (id int PRIMARY KEY);
       CREATE VIEW items_view AS SELECT * FROM items;
       CREATE ROLE setup_stranger_${process.pid} LOGIN REPLICATION;
       GRANT CREATE ON DATABASE "${db.name}" TO setup_stranger_${process.pid};
       ALTER DATABASE "${db.name}" SET search_path = app, public`,
    );
  });
  afterAll(async () => {
    await sql(
      db.url,
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`,
      [db.name],
    );
    await db.drop();
    await sql(
      db.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1'),
      `DROP ROLE IF EXISTS setup_stranger_${process.pid}`,
    ).catch(() => undefined);
  });

  it('resolves an unqualified name on the search_path, as PostgreSQL does', async () => {
    const client = new pg.Client(db.url);
    await client.connect();
    try {
      const [users, items] = await resolveTables(client, ['users', 'items']);
      expect(users).toMatchObject({
        schema: 'app',
        name: 'users',
        ref: { schema: null, name: 'users' },
      });
      expect(items).toMatchObject({ schema: 'public', name: 'items' });
      const error = await refused(resolveTables(client, ['nosuch', 'public.users']));
      expect(error.code).toBe('TABLE_NOT_FOUND');
      expect(error.message).toContain('searched: "app", "public"');
      expect(error.message).toContain('"public"."users" does not exist');
    } finally {
      await client.end();
    }
    await withManager(db.url, async (manager) => {
      const result = await manager.ensureSetup({
        publication: 'res_pub',
        slot: 'res_slot',
        tables: ['users'],
      });
      expect(result.tables).toEqual([{ schema: 'app', name: 'users' }]);
      expect(result.publication.created).toBe(true);
      expect(result.slot.created).toBe(true);
    });
    expect(
      await sql(
        db.url,
        "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = 'res_pub'",
      ),
    ).toEqual([{ schemaname: 'app', tablename: 'users' }]);
  });

  it('refuses a missing table, a view and a table the role does not own, creating nothing', async () => {
    await leavesServerAsItWas(db.url, async () => {
      await withManager(db.url, async (manager) => {
        const error = await refused(
          manager.ensureSetup({
            publication: 'bad_pub',
            slot: 'bad_slot',
            tables: ['items', 'nosuch', 'items_view'],
          }),
        );
        expect(error.code).toBe('TABLE_NOT_FOUND');
        expect(error.problems!.map((p) => p.code)).toEqual(['TABLE_NOT_FOUND', 'TABLE_NOT_FOUND']);
        expect(error.message).toContain('searched: "app", "public"');
        expect(error.message).toContain('is not a table');
      });
      const url = new URL(db.url);
      url.username = `setup_stranger_${process.pid}`;
      await withManager(url.toString(), async (stranger) => {
        const error = await refused(
          stranger.ensureSetup({ publication: 'bad_pub', slot: 'bad_slot', tables: ['items'] }),
        );
        expect(error.code).toBe('PERMISSION_DENIED');
        expect(error.message).toContain('does not own public.items');
      });
    });
  });
});

describe('stored generated columns', () => {
  const { db, manager } = managedDatabase('slot_gencols', [
    'CREATE TABLE priced (id int PRIMARY KEY, net int, gross int GENERATED ALWAYS AS (net * 2) STORED)',
  ]);

  it('are published on PostgreSQL 18+ (unless turned off); diagnose names the tables that lack them', async () => {
    const [{ v }] = (await sql(
      db.url,
      "SELECT current_setting('server_version_num')::int AS v",
    )) as [{ v: number }];
    const created = await manager.ensurePublication('gen_on', { tables: ['priced'] });
    const off = await manager.ensurePublication(
      'gen_off',
      { tables: ['priced'] },
      { publishGeneratedColumns: false },
    );
    const on = (await manager.diagnose({ publication: 'gen_on' })).filter((c) =>
      c.id.startsWith('generated_columns'),
    );
    const without = (await manager.diagnose({ publication: 'gen_off' })).filter((c) =>
      c.id.startsWith('generated_columns'),
    );
    if (v >= 180000) {
      expect(created.value.publishGeneratedColumns).toBe(true);
      expect(
        await sql(
          db.url,
          "SELECT pubname::text, pubgencols::text FROM pg_publication WHERE pubname LIKE 'gen_%' ORDER BY 1",
        ),
      ).toEqual([
        { pubname: 'gen_off', pubgencols: 'n' },
        { pubname: 'gen_on', pubgencols: 's' },
      ]);
      expect(on).toMatchObject([{ id: 'generated_columns', ok: true }]);
      expect(without).toEqual([
        expect.objectContaining({
          id: 'generated_columns:public.priced',
          ok: false,
          severity: 'warning',
          fix: 'ALTER PUBLICATION "gen_off" SET (publish_generated_columns = stored);',
        }),
      ]);
    } else {
      expect(created.value.publishGeneratedColumns).toBe(false);
      expect(off.value.publishGeneratedColumns).toBe(false);
      for (const checks of [on, without]) {
        expect(checks).toEqual([
          expect.objectContaining({
            id: 'generated_columns:public.priced',
            ok: false,
            severity: 'warning',
            message: expect.stringContaining(
              '(gross): PostgreSQL before 18 never sends generated columns',
            ),
          }),
        ]);
      }
    }
  });
});
