// The READMEs' first examples, compiled as a stranger's TypeScript project compiles them:
// strict, under moduleResolution nodenext, bundler and node10 (see the tsconfig.*.json beside it).
import { defineConfig, defineHandlers } from '@koyo/cli';
import { createDispatcher, type Change } from '@koyo/dispatcher';
import { withRouting } from '@koyo/drizzle';
import { drizzleTypeParsers, onTable as onDrizzleTable } from '@koyo/drizzle/changes';
import { readFromPrimary, routedKnex } from '@koyo/knex';
import { onTable } from '@koyo/knex/changes';
import { createRoutedPool } from '@koyo/router/pg';
import { createRoutedSql } from '@koyo/router/postgres';
import { createSlotManager } from '@koyo/slot';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

declare const jobs: { enqueue(name: string, data: unknown): Promise<void> };
declare const search: {
  index(table: string, row: unknown): Promise<void>;
  remove(table: string, id: unknown): Promise<void>;
};
declare const mailer: { welcome(email: string, since?: Date): Promise<void> };
declare const audit: { write(change: Change): Promise<void> };

const users = pgTable('users', {
  id: integer('id').primaryKey(),
  email: text('email').notNull(),
  createdAt: timestamp('created_at').notNull(),
});

export async function dispatcherReadme(): Promise<void> {
  const dispatcher = createDispatcher({
    connection: process.env.DATABASE_URL!,
    slot: 'app',
    publication: 'app',
    tables: ['users', 'orders'],
  });
  dispatcher.onChange(async (change) => {
    switch (change.kind) {
      case 'insert':
        if (change.table === 'users') await jobs.enqueue('update-some-api', { userId: change.id });
        break;
      case 'update':
      case 'delete':
        break;
    }
  });
  dispatcher.onTable<{ id: number; email: string }>('users', {
    insert: (change) => mailer.welcome(change.new.email),
    update: (change) => search.index('users', change.new),
    delete: (change) => search.remove('users', change.id),
  });
  dispatcher.onTable('public.orders', (change) => audit.write(change));
  await dispatcher.start();
}

export async function knexReadme(): Promise<void> {
  const knex = routedKnex({
    primary: { client: 'pg', connection: process.env.DATABASE_URL, pool: { max: 10 } },
    replicas: [{ client: 'pg', connection: process.env.REPLICA1_URL, name: 'replica1' }],
    maxLag: { bytes: 16 * 1024 * 1024 },
    readYourWrites: { mode: 'lsn', waitMs: 200 },
  });
  await knex('users').where({ id: 1 }).first();
  await readFromPrimary(() => knex('users').first());
  const dispatcher = createDispatcher({
    connection: process.env.DATABASE_URL!,
    slot: 'app',
    publication: 'app',
    tables: ['users'],
  });
  onTable<'users', { id: number; email: string }>(dispatcher, 'users', {
    insert: async (change) => mailer.welcome(change.new.email),
    delete: async (change) => search.remove('users', change.id),
  });
  await dispatcher.start();
}

export async function drizzleReadme(): Promise<void> {
  const db = withRouting(drizzle(process.env.DATABASE_URL!), [drizzle(process.env.REPLICA_URL!)], {
    maxLag: { bytes: 16 * 1024 * 1024 },
    readYourWrites: { mode: 'lsn', waitMs: 200 },
  });
  await db.select().from(users);
  const dispatcher = createDispatcher({
    connection: process.env.DATABASE_URL!,
    slot: 'app',
    publication: 'app',
    tables: ['users'],
    typeParsers: drizzleTypeParsers,
  });
  onDrizzleTable(dispatcher, users, {
    insert: async (change) => mailer.welcome(change.new.email, change.new.createdAt),
    update: (change) => search.index('users', change.new),
  });
}

export async function routerReadme(): Promise<void> {
  const pool = createRoutedPool({
    primary: process.env.DATABASE_URL!,
    replicas: [process.env.REPLICA1_URL!],
    maxLag: { bytes: 16 * 1024 * 1024 },
    readYourWrites: { mode: 'lsn', waitMs: 200 },
  });
  await pool.query('SELECT * FROM users WHERE id = $1', [1]);
  const sql = createRoutedSql({
    primary: process.env.DATABASE_URL!,
    replicas: [process.env.REPLICA1_URL!],
  });
  const [user] = await sql`SELECT * FROM users WHERE id = ${1}`;
  void user;
}

export async function slotReadme(): Promise<void> {
  const manager = createSlotManager(process.env.DATABASE_URL!);
  await manager.ensureSetup({
    publication: 'koyo',
    slot: 'koyo',
    tables: ['users', 'billing.invoices'],
  });
  await manager.close();
}

export const config = defineConfig({
  connection: process.env.DATABASE_URL,
  slot: 'koyo_shop',
  publication: 'koyo_shop',
  tables: ['users'],
});
export default defineHandlers((koyo, { logger }) => {
  koyo.onTable('users', {
    insert: async (change) => {
      logger.info({ id: change.id, email: change.new.email }, 'inserted');
    },
  });
});
