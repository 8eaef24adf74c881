import { relations, sql } from 'drizzle-orm';
import { integer, pgMaterializedView, pgTable, serial, text } from 'drizzle-orm/pg-core';

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
});

export const posts = pgTable('posts', {
  id: serial('id').primaryKey(),
  userId: integer('user_id').notNull(),
  title: text('title').notNull(),
});

export const usersRelations = relations(users, ({ many }) => ({ posts: many(posts) }));
export const postsRelations = relations(posts, ({ one }) => ({
  author: one(users, { fields: [posts.userId], references: [users.id] }),
}));

export const userCount = pgMaterializedView('user_count', { n: integer('n').notNull() }).existing();

export const schema = { users, posts, usersRelations, postsRelations, userCount };

export const DDL = `
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE posts (id serial PRIMARY KEY, user_id int NOT NULL, title text NOT NULL);
INSERT INTO users (name) VALUES ('ada'), ('grace'), ('linus');
INSERT INTO posts (user_id, title) VALUES (1, 'notes'), (1, 'engine'), (2, 'cobol');
CREATE MATERIALIZED VIEW user_count AS SELECT count(*)::int AS n FROM users;
`;

/** Columns that prove where a statement ran (server truth). */
export const WHERE = {
  r: sql<boolean>`pg_is_in_recovery()`.as('r'),
  port: sql<number>`inet_server_port()`.as('port'),
  pid: sql<number>`pg_backend_pid()`.as('pid'),
};
