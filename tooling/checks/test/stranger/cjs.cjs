// A CommonJS app (Knex apps often are): require() of koyo's ESM-only packages (Node >= 20.19).
const assert = require('node:assert/strict');
const { routedKnex } = require('@koyo/knex');
const { onTable } = require('@koyo/knex/changes');
const { createDispatcher } = require('@koyo/dispatcher');
const { createRoutedPool } = require('@koyo/router/pg');

async function main() {
  const url = process.env.DATABASE_URL;
  const knex = routedKnex({ primary: { client: 'pg', connection: url }, replicas: [] });
  await knex.schema.createTable('stranger_orders', (t) => {
    t.integer('id').primary();
    t.text('item').notNullable();
  });
  const dispatcher = createDispatcher({
    connection: url,
    slot: 'stranger_cjs',
    publication: 'stranger_cjs',
    tables: ['stranger_orders'],
    logger: false,
  });
  const items = [];
  onTable(dispatcher, 'stranger_orders', { insert: (change) => void items.push(change.new.item) });
  await dispatcher.start();
  await knex('stranger_orders').insert({ id: 1, item: 'tea' });
  await dispatcher.drain();
  await dispatcher.stop();
  assert.deepEqual(items, ['tea']);
  assert.equal((await knex('stranger_orders').first()).item, 'tea');
  await knex.destroy();
  const pool = createRoutedPool({ primary: url, replicas: [] });
  await pool.query("SELECT pg_drop_replication_slot('stranger_cjs')");
  await pool.end();
  console.log('cjs ok');
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
