// originKnex: a handler that updates the table it listens to through Knex (queries and
// knex.transaction) hears no echo, and writes of other sessions still arrive.
import { createDispatcher, type Change, type Dispatcher } from '@koyo/dispatcher';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originKnex } from '../src/index.js';
import { queryUrl } from './_helpers.js';

let db: TestDatabase;
let dispatcher: Dispatcher;
const name = `knex_origin_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  db = await createTestDatabase('knex_origin');
  await queryUrl(
    db.url,
    'CREATE TABLE orders (id serial PRIMARY KEY, price int NOT NULL, total int); CREATE TABLE audit (id serial PRIMARY KEY, order_id int NOT NULL)',
  );
  dispatcher = createDispatcher({
    connection: db.url,
    slot: name,
    publication: name,
    tables: ['orders', 'audit'],
    logger: false,
    statusIntervalMs: 200,
  });
});

afterAll(async () => {
  await dispatcher.stop();
  await queryUrl(db.url, 'SELECT pg_drop_replication_slot($1)', [name]).catch(() => undefined);
  await queryUrl(db.url, 'SELECT pg_replication_origin_drop($1)', [dispatcher.origin]).catch(
    () => undefined,
  );
  await db.drop();
});

describe('originKnex', () => {
  it('handler writes through Knex are not delivered back; other writes are', async () => {
    const knex = originKnex(dispatcher);
    const seen: Change[] = [];
    let audits = 0;
    dispatcher.onTable('orders', async (change) => {
      seen.push(change);
      await knex('orders')
        .where({ id: change.id })
        .update({ total: knex.raw('price * 2') });
      await knex.transaction(async (trx) => {
        await trx('audit').insert({ order_id: change.id });
      });
    });
    dispatcher.onTable('audit', () => void audits++);
    await dispatcher.start();
    await queryUrl(db.url, 'INSERT INTO orders (price) SELECT g FROM generate_series(1, 200) g');
    await dispatcher.drain();
    await dispatcher.drain(); // after every handler write: an echo would be delivered before this
    expect(seen).toHaveLength(200);
    expect(new Set(seen.map((c) => c.kind))).toEqual(new Set(['insert']));
    expect(audits).toBe(0);
    const [truth] = await queryUrl<{ priced: number; audit: number; tagged: boolean }>(
      db.url,
      `SELECT (SELECT count(*)::int FROM orders WHERE total = price * 2) AS priced,
              (SELECT count(DISTINCT order_id)::int FROM audit) AS audit`,
    );
    expect(truth).toEqual({ priced: 200, audit: 200 });
    // The session Knex used is the origin-tagged one.
    const [session] = (await knex.raw('SELECT pg_replication_origin_session_is_setup() AS tagged'))
      .rows;
    expect(session.tagged).toBe(true);
    await knex.destroy();
    // destroy() leaves the dispatcher's pool open.
    expect((await dispatcher.db.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });
});
