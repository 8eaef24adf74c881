import { createDispatcher } from '@koyo/dispatcher';
import { createSlotManager } from '@koyo/slot';
import { createTestDatabase, queryUrl, type TestDatabase } from '@koyo/testing/vitest';
import type pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createOrders, type Orders } from '../src/orders.js';

let db: TestDatabase;
let orders: Orders;
const slot = `orders_${process.pid}_${Date.now() % 100000}`;
const copy = `${slot}_copy`;
const delivered: string[] = [];

/** Runs one statement on the primary. */
const primary = <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> =>
  queryUrl<R>(db.url, sql, params);

beforeAll(async () => {
  db = await createTestDatabase('orders');
  orders = await createOrders({
    primaryUrl: db.url,
    replicaUrls: db.replicaUrls,
    slot,
    publication: slot,
  });
  orders.dispatcher.onChange(
    (change) => void delivered.push(`${change.commitLsn}/${change.position}`),
  );
  await orders.start();
  // A copy of the slot at the same position: reading it later redelivers every change below.
  await primary('SELECT pg_copy_logical_replication_slot($1, $2)', [slot, copy]);
});

afterAll(async () => {
  await orders?.stop();
  const manager = createSlotManager(db.url);
  for (const name of [slot, copy])
    await manager.dropSlot(name, { force: true }).catch(() => undefined);
  await manager.close();
  await db?.drop();
});

test('migrations ran on the primary', async () => {
  const rows = await primary<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id');
  expect(rows.map((row) => row.name)).toEqual(['0001_orders', '0002_audit_log']);
});

test('an order is placed in one transaction and read back with its lines', async () => {
  const order = await orders.placeOrder('ada', [
    { sku: 'TEA-1', quantity: 2, priceCents: 4900 },
    { sku: 'WSK-1', quantity: 1, priceCents: 1200 },
  ]);
  expect(order.total_cents).toBe(11000);
  const read = await orders.getOrder(order.id);
  expect(read?.lines).toEqual([
    { sku: 'TEA-1', quantity: 2, price_cents: 4900 },
    { sku: 'WSK-1', quantity: 1, price_cents: 1200 },
  ]);
  expect(await orders.cancelOrder(order.id)).toBe('cancelled');
  expect(await orders.cancelOrder(order.id)).toBe('not-cancellable');
});

test('the audit log has exactly one entry per change, even after a forced redelivery', async () => {
  await orders.placeOrder('grace', [{ sku: 'KTL-1', quantity: 1, priceCents: 6500 }]);
  await orders.dispatcher.drain();
  // 2 orders inserts + 3 order_lines inserts + 1 cancel update.
  expect(delivered).toHaveLength(6);
  const audit = await primary<{ key: string; table_name: string }>(
    "SELECT commit_lsn || '/' || position AS key, table_name FROM audit_log",
  );
  expect(audit.map((row) => row.key).sort()).toEqual([...delivered].sort());
  expect(new Set(audit.map((row) => row.table_name))).toEqual(new Set(['orders', 'order_lines']));

  // The copied slot delivers the same changes again, through the same audit handler.
  const again = createDispatcher({
    connection: db.url,
    slot: copy,
    publication: slot,
    createSlot: false,
    logger: false,
  });
  const redelivered: string[] = [];
  again.onChange(async (change) => {
    redelivered.push(`${change.commitLsn}/${change.position}`);
    await orders.audit(change);
  });
  await again.start();
  await again.drain();
  await again.stop();
  expect(redelivered.sort()).toEqual([...delivered].sort());
  const [count] = await primary<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
  expect(count?.n).toBe(6);
});
