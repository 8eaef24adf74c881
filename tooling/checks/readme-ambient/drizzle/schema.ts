// The `./schema` module the @koyo/drizzle README's examples import.
import { integer, jsonb, numeric, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  email: text('email').notNull().default(''),
  createdAt: timestamp('created_at').notNull().defaultNow(),
  settings: jsonb('settings').$type<{ theme: 'light' | 'dark' }>(),
});
export const jobs = pgTable('jobs', { id: serial('id').primaryKey(), state: text('state') });
export const orders = pgTable('orders', {
  id: serial('id').primaryKey(),
  price: numeric('price').notNull(),
  qty: integer('qty').notNull(),
  total: numeric('total'),
});
