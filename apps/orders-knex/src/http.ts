import { Hono } from 'hono';
import type { Orders } from './orders.js';

function isLine(value: unknown): value is { sku: string; quantity: number; priceCents: number } {
  if (typeof value !== 'object' || value === null) return false;
  const line = value as Record<string, unknown>;
  return (
    typeof line.sku === 'string' &&
    Number.isInteger(line.quantity) &&
    (line.quantity as number) > 0 &&
    Number.isInteger(line.priceCents) &&
    (line.priceCents as number) >= 0
  );
}

/** The orders HTTP API (Hono): place, list, read and cancel orders, and read the audit log. */
export function createOrdersApp(orders: Orders): Hono {
  const app = new Hono();

  app.post('/orders', async (c) => {
    const body = (await c.req.json().catch(() => null)) as {
      customer?: unknown;
      lines?: unknown;
    } | null;
    if (!body || typeof body.customer !== 'string' || body.customer.trim() === '')
      return c.json({ error: 'customer: a non-empty string' }, 400);
    if (!Array.isArray(body.lines) || body.lines.length === 0 || !body.lines.every(isLine)) {
      return c.json(
        { error: 'lines: a non-empty array of { sku, quantity > 0, priceCents >= 0 }' },
        400,
      );
    }
    return c.json(await orders.placeOrder(body.customer, body.lines), 201);
  });

  app.get('/orders', async (c) => c.json(await orders.listOrders()));

  app.get('/orders/:id', async (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isInteger(id) || id <= 0) return c.json({ error: 'id: a positive integer' }, 400);
    const order = await orders.getOrder(id);
    return order ? c.json(order) : c.json({ error: 'not found' }, 404);
  });

  app.post('/orders/:id/cancel', async (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isInteger(id) || id <= 0) return c.json({ error: 'id: a positive integer' }, 400);
    const outcome = await orders.cancelOrder(id);
    if (outcome === 'not-found') return c.json({ error: 'not found' }, 404);
    if (outcome === 'not-cancellable')
      return c.json({ error: 'only placed orders can be cancelled' }, 409);
    return c.json({ id, status: 'cancelled' });
  });

  app.get('/audit', async (c) => c.json(await orders.auditLog()));

  return app;
}
