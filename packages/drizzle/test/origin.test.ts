// originDrizzle: a handler that updates the table it listens to through Drizzle (queries and
// db.transaction) hears no echo.
import { createDispatcher, type Change, type Dispatcher } from '@koyo/dispatcher';
import { openOriginFixture, type OriginFixture } from '@koyo/testing/vitest';
import { eq, sql } from 'drizzle-orm';
import { integer, pgTable, serial } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originDrizzle } from '../src/origin-drizzle.js';

const orders = pgTable('orders', {
  id: serial('id').primaryKey(),
  price: integer('price').notNull(),
  total: integer('total'),
});
const audit = pgTable('audit', {
  id: serial('id').primaryKey(),
  orderId: integer('order_id').notNull(),
});

let fixture: OriginFixture<Dispatcher> | undefined;
let admin: pg.Pool;
let dispatcher: Dispatcher;

beforeAll(async () => {
  fixture = await openOriginFixture('drizzle_origin', createDispatcher);
  dispatcher = fixture.dispatcher;
  admin = new pg.Pool({ connectionString: fixture.db.url, max: 2 });
});

afterAll(async () => {
  await admin?.end();
  await fixture?.close();
});

describe('originDrizzle', () => {
  it('handler writes through Drizzle are not delivered back; other writes are', async () => {
    const orm = originDrizzle(dispatcher, { schema: { orders, audit } });
    const seen: Change[] = [];
    let audits = 0;
    dispatcher.onTable('orders', async (change) => {
      seen.push(change);
      await orm
        .update(orders)
        .set({ total: sql`${orders.price} * 2` })
        .where(eq(orders.id, Number(change.id)));
      await orm.transaction(async (tx) => {
        await tx.insert(audit).values({ orderId: Number(change.id) });
      });
    });
    dispatcher.onTable('audit', () => void audits++);
    await dispatcher.start();
    await admin.query('INSERT INTO orders (price) SELECT g FROM generate_series(1, 200) g');
    await dispatcher.drain();
    await dispatcher.drain(); // after every handler write: an echo would be delivered before this
    expect(seen).toHaveLength(200);
    expect(new Set(seen.map((c) => c.kind))).toEqual(new Set(['insert']));
    expect(audits).toBe(0);
    const { rows } = await admin.query(
      `SELECT (SELECT count(*)::int FROM orders WHERE total = price * 2) AS priced,
              (SELECT count(DISTINCT order_id)::int FROM audit) AS audit`,
    );
    expect(rows[0]).toEqual({ priced: 200, audit: 200 });
    const tagged = await orm.execute(
      sql`SELECT pg_replication_origin_session_is_setup() AS tagged`,
    );
    expect(tagged.rows[0]!.tagged).toBe(true);
  });
});
