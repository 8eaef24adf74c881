import { startCluster, type Cluster } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { koyo, koyoSetup, uniqueName, useDb } from './helpers.js';

/** Everything a setup could change: publications (with tables), slots, ALTER SYSTEM lines. Server truth. */
const SERVER_STATE = `
  SELECT (SELECT coalesce(json_agg(p ORDER BY p.pubname), '[]') FROM (SELECT pubname::text FROM pg_publication) p) AS publications,
         (SELECT coalesce(json_agg(t ORDER BY t.pubname, t.schemaname, t.tablename), '[]') FROM (SELECT pubname::text, schemaname::text, tablename::text FROM pg_publication_tables) t) AS published,
         (SELECT coalesce(json_agg(s ORDER BY s.slot_name), '[]') FROM (SELECT slot_name::text FROM pg_replication_slots) s) AS slots,
         (SELECT coalesce(json_agg(f ORDER BY f.name), '[]') FROM (SELECT name, setting FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf') f) AS altered`;

let replicaLevel: Cluster;
const db = useDb('cli_setup');
/** The tables a publication publishes, schema-qualified: server truth. */
const published = (name: string): Promise<unknown[]> =>
  db.query(
    'SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1',
    [name],
  );
/** The slot of that name, if the server has it. */
const slots = (name: string): Promise<unknown[]> =>
  db.query('SELECT slot_name::text FROM pg_replication_slots WHERE slot_name = $1', [name]);

beforeAll(async () => {
  replicaLevel = await startCluster({ replicas: 0, settings: { wal_level: 'replica' } });
  await replicaLevel.primary.query(`CREATE ROLE table_owner LOGIN REPLICATION;
    GRANT CREATE ON DATABASE postgres TO table_owner;
    CREATE TABLE items (id int PRIMARY KEY);
    ALTER TABLE items OWNER TO table_owner`);
  await db.query(`CREATE SCHEMA app; CREATE TABLE app.users (id int PRIMARY KEY)`);
  await db.query(`ALTER DATABASE "${db.name}" SET search_path = app, public`);
});
afterAll(async () => {
  await replicaLevel?.stop();
});

describe('koyo setup --apply checks everything before it changes anything', () => {
  it('wal_level = replica, as the tables’ owner (not a superuser): refuses, leaving no publication', async () => {
    const before = await replicaLevel.primary.query(SERVER_STATE);
    const url = new URL(replicaLevel.primary.url);
    url.username = 'table_owner';
    const result = await koyo(['setup', '--apply', '--url', url.toString(), '--table', 'items']);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toContain('nothing was changed');
    expect(result.stdout).toContain(
      'wal_level = replica: logical replication needs wal_level = logical.',
    );
    expect(await replicaLevel.primary.query(SERVER_STATE)).toEqual(before);
  });

  it('a table that does not exist: refuses before ALTER SYSTEM, naming the schemas searched', async () => {
    const before = await replicaLevel.primary.query(SERVER_STATE);
    const result = await koyoSetup({
      apply: true,
      url: replicaLevel.primary.url,
      table: ['items', 'nosuch'],
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      '"nosuch" does not exist in any schema of the connection\'s search_path (searched: "public")',
    );
    expect(await replicaLevel.primary.query(SERVER_STATE)).toEqual(before);
  });

  it('as a superuser: applies the server settings, and leaves the publication and slot for after the restart', async () => {
    const result = await koyoSetup({ apply: true, url: replicaLevel.primary.url, table: 'items' });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('✓ ALTER SYSTEM SET wal_level = logical;');
    expect(result.stdout).toContain('after the restart: run koyo setup --apply again');
    const [state] = await replicaLevel.primary.query(SERVER_STATE);
    expect(state).toMatchObject({ publications: [], slots: [] });
  });
});

describe('koyo setup resolves table names like PostgreSQL', () => {
  it("--table users is the search_path's app.users, printed and published qualified", async () => {
    const slot = uniqueName('cli_setup');
    const printed = await koyo(['setup', '--url', db.url, '--slot', slot, '--table', 'users']);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`CREATE PUBLICATION "${slot}" FOR TABLE "app"."users";`);
    const applied = await koyoSetup({ apply: true, url: db.url, slot, table: 'users' });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(await published(slot)).toEqual([{ schemaname: 'app', tablename: 'users' }]);
    expect(await slots(slot)).toEqual([{ slot_name: slot }]);
  });
});

describe('koyo setup publishes every table only when asked, and never a keyless table', () => {
  it('--apply without --table or --all-tables refuses to create a publication', async () => {
    const slot = uniqueName('cli_notables');
    const printed = await koyo(['setup', '--url', db.url, '--slot', slot]);
    expect(printed.stdout).not.toContain('FOR ALL TABLES');
    expect(printed.stdout).toContain('--all-tables');
    const applied = await koyo(['setup', '--apply', '--url', db.url, '--slot', slot]);
    expect(applied.code).toBe(1);
    expect(applied.stdout).toContain('no tables were given');
    expect(applied.stdout).toContain('--all-tables');
    expect(await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [slot])).toEqual([]);
    expect(await slots(slot)).toEqual([]);
  });

  it('--table with a table without a primary key refuses, naming it and both fixes', async () => {
    await db.query('CREATE TABLE app.nopk (line text)');
    const slot = uniqueName('cli_nopk');
    const applied = await koyoSetup({ apply: true, url: db.url, slot, table: 'users,nopk' });
    expect(applied.code).toBe(1);
    expect(applied.stdout).toContain('app.nopk');
    expect(applied.stdout).toContain('REPLICA IDENTITY FULL');
    expect(applied.stdout).toContain('PRIMARY KEY');
    expect(await published(slot)).toEqual([]);
    expect(await slots(slot)).toEqual([]);
    // --all-tables is refused for the same table, and accepted once it has an identity.
    const every = await koyo(['setup', '--apply', '--url', db.url, '--slot', slot, '--all-tables']);
    expect(every.code).toBe(1);
    expect(every.stdout).toContain('app.nopk');
    await db.query('ALTER TABLE app.nopk REPLICA IDENTITY FULL');
    const fixed = await koyo(['setup', '--apply', '--url', db.url, '--slot', slot, '--all-tables']);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(
      await db.query('SELECT puballtables FROM pg_publication WHERE pubname = $1', [slot]),
    ).toEqual([{ puballtables: true }]);
    await db.query(`DROP PUBLICATION "${slot}"`);
    await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  });
});
