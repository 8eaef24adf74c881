// An ESM app, as a stranger writes it after reading the READMEs: pg, postgres.js, Knex, Drizzle.
import assert from 'node:assert/strict';
import { createDispatcher } from '@koyo/dispatcher';
import { withRouting } from '@koyo/drizzle';
import { onTable as onDrizzleTable } from '@koyo/drizzle/changes';
import { routedKnex } from '@koyo/knex';
import { onTable } from '@koyo/knex/changes';
import { parseLsn } from '@koyo/pgoutput';
import { createRoutedPool } from '@koyo/router/pg';
import { createRoutedSql } from '@koyo/router/postgres';
import { createSlotManager } from '@koyo/slot';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import pg from 'pg';

const url = process.env.DATABASE_URL;
const users = pgTable('stranger_users', {
  id: integer('id').primaryKey(),
  email: text('email').notNull(),
});

const client = new pg.Client(url);
await client.connect();
await client.query('CREATE TABLE stranger_users (id int PRIMARY KEY, email text NOT NULL)');

const dispatcher = createDispatcher({
  connection: url,
  slot: 'stranger_esm',
  publication: 'stranger_esm',
  tables: ['stranger_users'],
  logger: false,
});
const viaKnex = [];
const viaDrizzle = [];
onTable(dispatcher, 'stranger_users', { insert: (change) => void viaKnex.push(change.new.email) });
onDrizzleTable(dispatcher, users, { insert: (change) => void viaDrizzle.push(change.new.email) });
await dispatcher.start();
await client.query("INSERT INTO stranger_users VALUES (1, 'ada@example.com')");
await dispatcher.drain();
await dispatcher.stop();
assert.deepEqual(viaKnex, ['ada@example.com']);
assert.deepEqual(viaDrizzle, ['ada@example.com']);

const knex = routedKnex({ primary: { client: 'pg', connection: url }, replicas: [] });
assert.equal((await knex('stranger_users').where({ id: 1 }).first()).email, 'ada@example.com');
await knex.destroy();

const primaryDb = drizzle(url);
const db = withRouting(primaryDb, []);
assert.deepEqual(await db.select().from(users), [{ id: 1, email: 'ada@example.com' }]);
await primaryDb.$client.end();

const pool = createRoutedPool({ primary: url, replicas: [] });
assert.equal((await pool.query('SELECT count(*)::int AS n FROM stranger_users')).rows[0].n, 1);
await pool.end();

const sql = createRoutedSql({ primary: url, replicas: [] });
assert.equal((await sql`SELECT email FROM stranger_users`)[0].email, 'ada@example.com');
await sql.end();

assert.equal(parseLsn('1/0'), 4294967296n);
const manager = createSlotManager(url);
await manager.dropSlot('stranger_esm');
await manager.close();
await client.end();
console.log('esm ok');
