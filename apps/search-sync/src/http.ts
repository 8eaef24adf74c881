import { Hono, type Context } from 'hono';
import type { Catalog } from './catalog.js';

/** What the HTTP layer needs of the router to carry read-your-writes across requests. */
export interface ReadYourWritesTokens {
  withToken<T>(token: string | undefined, fn: () => T): T;
  readYourWritesToken(): string | undefined;
}

/** Header that carries the read-your-writes position between requests of one client. */
export const RYW_HEADER = 'x-koyo-ryw';

function productId(c: Context): number | undefined {
  const id = Number(c.req.param('id'));
  return Number.isInteger(id) && id > 0 ? id : undefined;
}

function parseProduct(
  body: unknown,
  partial: boolean,
): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  if (typeof body !== 'object' || body === null)
    return { ok: false, error: 'expected a JSON object' };
  const input = body as Record<string, unknown>;
  const value: Record<string, unknown> = {};
  if (input.name !== undefined || !partial) {
    if (typeof input.name !== 'string' || input.name.trim() === '')
      return { ok: false, error: 'name: a non-empty string' };
    value.name = input.name;
  }
  if (input.description !== undefined) {
    if (typeof input.description !== 'string') return { ok: false, error: 'description: a string' };
    value.description = input.description;
  }
  if (input.priceCents !== undefined || !partial) {
    if (!Number.isInteger(input.priceCents) || (input.priceCents as number) < 0)
      return { ok: false, error: 'priceCents: an integer >= 0' };
    value.priceCents = input.priceCents;
  }
  if (input.inStock !== undefined) {
    if (typeof input.inStock !== 'boolean') return { ok: false, error: 'inStock: a boolean' };
    value.inStock = input.inStock;
  }
  return { ok: true, value };
}

/**
 * The catalogue's HTTP API (Hono): create, read, update, delete and list products through the
 * routed Drizzle database, and search the index that koyo keeps in sync.
 *
 * Every request runs in its own routing session; the read-your-writes position travels in the
 * `x-koyo-ryw` header, so a client that sends back what it got reads its own writes.
 */
export function createCatalogApp(catalog: Catalog, tokens: ReadYourWritesTokens): Hono {
  const app = new Hono();

  app.use('*', async (c, next) => {
    await tokens.withToken(c.req.header(RYW_HEADER), async () => {
      await next();
      const token = tokens.readYourWritesToken();
      if (token) c.header(RYW_HEADER, token);
    });
  });

  app.post('/products', async (c) => {
    const parsed = parseProduct(await c.req.json().catch(() => null), false);
    if (!parsed.ok) return c.json({ error: parsed.error }, 400);
    const product = await catalog.create(parsed.value as Parameters<Catalog['create']>[0]);
    return c.json(product, 201);
  });

  app.get('/products', async (c) => c.json(await catalog.list()));

  app.get('/products/:id', async (c) => {
    const id = productId(c);
    if (id === undefined) return c.json({ error: 'id: a positive integer' }, 400);
    const product = await catalog.get(id);
    return product ? c.json(product) : c.json({ error: 'not found' }, 404);
  });

  app.patch('/products/:id', async (c) => {
    const id = productId(c);
    if (id === undefined) return c.json({ error: 'id: a positive integer' }, 400);
    const parsed = parseProduct(await c.req.json().catch(() => null), true);
    if (!parsed.ok) return c.json({ error: parsed.error }, 400);
    const product = await catalog.update(id, parsed.value);
    return product ? c.json(product) : c.json({ error: 'not found' }, 404);
  });

  app.delete('/products/:id', async (c) => {
    const id = productId(c);
    if (id === undefined) return c.json({ error: 'id: a positive integer' }, 400);
    return (await catalog.remove(id)) ? c.body(null, 204) : c.json({ error: 'not found' }, 404);
  });

  app.get('/search', (c) => {
    const q = c.req.query('q')?.trim();
    if (!q) return c.json({ error: 'q: a search query' }, 400);
    return c.json(catalog.index.search(q));
  });

  app.get('/health', (c) =>
    c.json({ indexed: catalog.index.size, dispatcher: catalog.dispatcher.stats() }),
  );

  return app;
}
