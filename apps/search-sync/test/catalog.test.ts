import { createSlotManager } from '@koyo/slot';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createCatalog, type Catalog } from '../src/catalog.js';
import { createCatalogApp, RYW_HEADER } from '../src/http.js';

let db: TestDatabase;
let catalog: Catalog;
let app: ReturnType<typeof createCatalogApp>;
const slot = `search_${process.pid}_${Date.now() % 100000}`;

async function call(
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: any; token: string | null }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers[RYW_HEADER] = token;
  const response = await app.request(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : null,
    token: response.headers.get(RYW_HEADER),
  };
}

const names = (hits: { name: string }[]): string[] => hits.map((hit) => hit.name).sort();

beforeAll(async () => {
  db = await createTestDatabase('search');
  // Rows that exist before the service starts reach the index through the backfill.
  catalog = await createCatalog({
    primaryUrl: db.url,
    replicaUrls: db.replicaUrls,
    slot,
    publication: slot,
  });
  const client = new pg.Client(db.url);
  await client.connect();
  await client.query(
    `INSERT INTO products (name, description, price_cents) VALUES ('Stoneware mug', 'holds 300 ml', 1500)`,
  );
  await client.query(
    `INSERT INTO products (name, price_cents) SELECT 'Filler ' || g, 100 FROM generate_series(1, 2500) g`,
  );
  await client.end();
  await catalog.start();
  await catalog.backfilled();
  app = createCatalogApp(catalog, catalog.db.$router);
});

afterAll(async () => {
  await catalog?.stop();
  const manager = createSlotManager(db.url);
  await manager.dropSlot(slot, { force: true }).catch(() => undefined);
  await manager.close();
  await db?.drop();
});

test("backfill: 'initial' indexes every row that existed before start, as 'snapshot' changes", async () => {
  expect(names((await call('GET', '/search?q=mug')).body)).toEqual(['Stoneware mug']);
  expect(catalog.index.size).toBe(2501);
  expect(catalog.dispatcher.stats().backfill).toEqual([
    expect.objectContaining({ table: 'public.products', rows: 2501, state: 'done' }),
  ]);
});

test('search results follow inserts, updates and deletes once drain() resolves', async () => {
  const teapot = (
    await call('POST', '/products', {
      name: 'Cast iron teapot',
      description: 'keeps tea hot',
      priceCents: 4900,
    })
  ).body;
  await call('POST', '/products', { name: 'Glass teapot', priceCents: 2900 });
  await catalog.dispatcher.drain();
  expect(names((await call('GET', '/search?q=teapot')).body)).toEqual([
    'Cast iron teapot',
    'Glass teapot',
  ]);

  await call('PATCH', `/products/${teapot.id}`, { name: 'Cast iron tetsubin' });
  await catalog.dispatcher.drain();
  expect(names((await call('GET', '/search?q=tetsubin')).body)).toEqual(['Cast iron tetsubin']);
  expect(names((await call('GET', '/search?q=teapot')).body)).toEqual(['Glass teapot']);

  expect((await call('DELETE', `/products/${teapot.id}`)).status).toBe(204);
  await catalog.dispatcher.drain();
  expect((await call('GET', '/search?q=tetsubin')).body).toEqual([]);
});

test('a write hands out a read-your-writes token and a read that sends it back finds the row', async () => {
  // The shared cluster's replica is not paused here; the tour test (apps/demo) pauses replay and
  // shows the same read without the token missing the row.
  const created = await call('POST', '/products', { name: 'Copper kettle', priceCents: 8900 });
  expect(created.status).toBe(201);
  expect(created.token).toMatch(/^koyo1\./);
  const read = await call('GET', `/products/${created.body.id}`, undefined, created.token!);
  expect(read.status).toBe(200);
  expect(read.body.name).toBe('Copper kettle');
});

test('bad input gets a 400 with the field named', async () => {
  const response = await call('POST', '/products', { name: '', priceCents: -1 });
  expect(response.status).toBe(400);
  expect(response.body.error).toMatch(/^name/);
});

test('a restart on the same slot indexes the existing rows again (the index lives in memory)', async () => {
  await catalog.stop();
  catalog = await createCatalog({
    primaryUrl: db.url,
    replicaUrls: db.replicaUrls,
    slot,
    publication: slot,
  });
  await catalog.start();
  await catalog.backfilled();
  app = createCatalogApp(catalog, catalog.db.$router);
  const client = new pg.Client(db.url);
  await client.connect();
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
  await client.end();
  expect(catalog.index.size).toBe(rows[0]!.n);
  expect(names((await call('GET', '/search?q=mug')).body)).toEqual(['Stoneware mug']);
});
