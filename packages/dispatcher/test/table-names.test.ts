import { beforeAll, describe, expect, it } from 'vitest';
import { createKoyoLogger } from '../src/index.js';
import { fileDb, freshDispatchers, publishedTables, uniqueName } from './helpers.js';

// `users` exists in schema app and in public; the database's search_path finds app first.
const db = fileDb(
  'disp_names',
  `CREATE SCHEMA app;
    CREATE TABLE app.users (id int PRIMARY KEY);
    CREATE TABLE public.users (id int PRIMARY KEY);
    CREATE TABLE public.orders (id int PRIMARY KEY)`,
);
beforeAll(async () => {
  await db.query(`ALTER DATABASE "${db.name}" SET search_path = app, public`);
});
const fresh = freshDispatchers(db, 'names');

describe('table names resolve like PostgreSQL resolves them (search_path)', () => {
  it("tables: ['users'] publishes and dispatches app.users, and the log says so", async () => {
    const lines: string[] = [];
    const { dispatcher: d, publication } = fresh({
      tables: ['users'],
      logger: createKoyoLogger({ write: (line) => void lines.push(line) }),
    });
    const seen: string[] = [];
    d.onTable('users', (c) => void seen.push(`${c.schema}.${c.table}:${String(c.id)}`));
    await d.start();
    await db.query('INSERT INTO app.users VALUES (1)');
    await db.query('INSERT INTO public.users VALUES (2)');
    await d.drain();
    await d.stop();
    expect(seen).toEqual(['app.users:1']);
    expect(await publishedTables(db, publication)).toEqual([
      { schemaname: 'app', tablename: 'users' },
    ]);
    expect(
      lines.some((line) => /message="publication created".*tables=app\.users/.test(line)),
    ).toBe(true);
    expect(lines.some((line) => /message="dispatcher started".*tables=app\.users/.test(line))).toBe(
      true,
    );
  });

  it("onTable('users') is the table the search_path finds, not every schema's users", async () => {
    const publication = uniqueName('names_on_pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE app.users, public.users`);
    const { dispatcher: d } = fresh({ publication });
    const bare: string[] = [];
    const qualified: string[] = [];
    d.onTable('users', (c) => void bare.push(`${c.schema}:${String(c.id)}`));
    d.onTable('public.users', (c) => void qualified.push(`${c.schema}:${String(c.id)}`));
    await d.start();
    await db.query('INSERT INTO app.users VALUES (10)');
    await db.query('INSERT INTO public.users VALUES (20)');
    await d.drain();
    // Registered after start: resolved with the search_path read at start.
    const late: string[] = [];
    d.onTable('users', (c) => void late.push(`${c.schema}:${String(c.id)}`));
    expect(() => d.onTable('orders', () => undefined)).toThrow(/after start\(\)/);
    await db.query('INSERT INTO app.users VALUES (11)');
    await db.query('INSERT INTO public.users VALUES (21)');
    await d.drain();
    await d.stop();
    expect(bare).toEqual(['app:10', 'app:11']);
    expect(late).toEqual(['app:11']);
    expect(qualified).toEqual(['public:20', 'public:21']);
  });

  it('a name that matches nothing fails start() with TABLE_NOT_FOUND naming the schemas searched, creating nothing', async () => {
    const { dispatcher: tablesMissing, slot, publication } = fresh({ tables: ['nosuch'] });
    tablesMissing.onChange(() => undefined);
    await expect(tablesMissing.start()).rejects.toMatchObject({
      code: 'SETUP_FAILED',
      cause: { code: 'TABLE_NOT_FOUND' },
      message: expect.stringContaining('searched: "app", "public"'),
    });
    const { dispatcher: onTableMissing } = fresh({ slot, publication });
    onTableMissing.onTable('nosuch', () => undefined);
    await expect(onTableMissing.start()).rejects.toMatchObject({
      code: 'SETUP_FAILED',
      cause: { code: 'TABLE_NOT_FOUND' },
      message: expect.stringContaining('"nosuch" does not exist in any schema'),
    });
    expect(
      await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]),
    ).toEqual([]);
    expect(
      await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]),
    ).toEqual([]);
  });
});
