import type { Knex } from 'knex';

interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: Migration[] = [
  {
    name: '0001_orders',
    async up(knex) {
      await knex.schema.createTable('orders', (table) => {
        table.increments('id').primary();
        table.text('customer').notNullable();
        table.text('status').notNullable().defaultTo('placed');
        table.integer('total_cents').notNullable();
        table.timestamp('placed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable('order_lines', (table) => {
        table.increments('id').primary();
        table.integer('order_id').notNullable().references('orders.id').onDelete('CASCADE');
        table.text('sku').notNullable();
        table.integer('quantity').notNullable();
        table.integer('price_cents').notNullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('order_lines');
      await knex.schema.dropTable('orders');
    },
  },
  {
    name: '0002_audit_log',
    async up(knex) {
      // (commit_lsn, position) is koyo's idempotency key: a redelivered change hits the
      // primary key and is ignored, so the log never holds a change twice.
      await knex.schema.createTable('audit_log', (table) => {
        table.text('commit_lsn').notNullable();
        table.integer('position').notNullable();
        table.text('table_name').notNullable();
        table.text('kind').notNullable();
        table.text('row_id');
        table.jsonb('data');
        table.timestamp('committed_at', { useTz: true }).notNullable();
        table.primary(['commit_lsn', 'position']);
      });
    },
    async down(knex) {
      await knex.schema.dropTable('audit_log');
    },
  },
];

/** Knex migrations defined in code, so they run the same from source and from a build. */
export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => migrations,
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration,
};
