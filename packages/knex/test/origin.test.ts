// originKnex: a handler that updates the table it listens to through Knex (queries and
// knex.transaction) hears no echo, and writes of other sessions still arrive.
import { createDispatcher, type Change, type Dispatcher } from '@koyo/dispatcher';
import { openOriginFixture, type OriginFixture, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originKnex } from '../src/index.js';
import { queryUrl } from './_helpers.js';

let fixture: OriginFixture<Dispatcher> | undefined;
let db: TestDatabase;
let dispatcher: Dispatcher;

beforeAll(async () => {
  fixture = await openOriginFixture('knex_origin', createDispatcher);
  ({ db, dispatcher } = fixture);
});

afterAll(async () => {
  await fixture?.close();
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
