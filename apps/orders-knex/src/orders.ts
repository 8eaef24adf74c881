import { createDispatcher, type Change, type Dispatcher, type Logger } from '@koyo/dispatcher';
import { readFromPrimary, routedKnex } from '@koyo/knex';
import { onTable } from '@koyo/knex/changes';
import { migrationSource } from './migrations.js';

/** Options of {@link createOrders}. */
export interface OrdersOptions {
  /** Connection string of the primary (a role with REPLICATION, to stream changes). */
  primaryUrl: string;
  /** Connection strings of streaming replicas that take reads. May be empty. */
  replicaUrls: string[];
  /** Replication slot of the audit log. Default `orders_audit`. */
  slot?: string;
  /** Publication of the audited tables. Default `orders_audit`. */
  publication?: string;
  /** One line per routed query (`Replica: ...` / `Primary: ...`). */
  onQueryLog?: (line: string) => void;
  /** The dispatcher's logger; default: none. */
  logger?: Logger | false;
}

/** An order line as placed by a customer. */
export interface OrderLineInput {
  sku: string;
  quantity: number;
  priceCents: number;
}

/** An order with its lines, as the API returns it. */
export interface Order {
  id: number;
  customer: string;
  status: string;
  total_cents: number;
  placed_at: Date;
  lines?: { sku: string; quantity: number; price_cents: number }[];
}

/** One entry of the audit log (one per committed change of `orders` or `order_lines`). */
export interface AuditEntry {
  commit_lsn: string;
  position: number;
  table_name: string;
  kind: string;
  row_id: string | null;
  data: unknown;
  committed_at: Date;
}

/** Tables whose changes the audit log records. `audit_log` itself is not published. */
export const AUDITED_TABLES = ['orders', 'order_lines'] as const;

/**
 * The orders service: a routed Knex instance (reads to replicas, orders placed in transactions on
 * the primary) and an audit log written by a koyo change handler. The audit entry's primary key is
 * the change's idempotency key `(commit_lsn, position)`, so a redelivered change is ignored.
 */
export async function createOrders(options: OrdersOptions) {
  const knex = routedKnex({
    primary: { client: 'pg', connection: options.primaryUrl, pool: { min: 0, max: 5 } },
    replicas: options.replicaUrls.map((url) => ({
      client: 'pg',
      connection: url,
      pool: { min: 0, max: 5 },
    })),
    readYourWrites: { mode: 'lsn', waitMs: 500 },
    ...(options.onQueryLog ? { logger: (line: string) => options.onQueryLog?.(line) } : {}),
  });
  await knex.migrate.latest({ migrationSource });

  const dispatcher: Dispatcher = createDispatcher({
    connection: options.primaryUrl,
    slot: options.slot ?? 'orders_audit',
    publication: options.publication ?? 'orders_audit',
    tables: [...AUDITED_TABLES],
    logger: options.logger ?? false,
  });

  /** Writes one audit entry; a redelivered change hits the primary key and changes nothing. */
  async function audit(change: Change): Promise<void> {
    await knex('audit_log')
      .insert({
        commit_lsn: change.commitLsn,
        position: change.position,
        table_name: change.table,
        kind: change.kind,
        row_id: change.id === null || change.id === undefined ? null : String(change.id),
        data: JSON.stringify(change.new ?? change.old),
        committed_at: change.commitTime,
      })
      .onConflict(['commit_lsn', 'position'])
      .ignore();
  }
  for (const table of AUDITED_TABLES) onTable(dispatcher, table, audit);

  return {
    knex,
    dispatcher,
    audit,
    start: () => dispatcher.start(),
    stop: async (): Promise<void> => {
      await dispatcher.stop();
      await knex.destroy();
    },
    /** Places an order and its lines in one transaction on the primary. */
    placeOrder: async (customer: string, lines: OrderLineInput[]): Promise<Order> =>
      knex.transaction(async (trx) => {
        const total = lines.reduce((sum, line) => sum + line.quantity * line.priceCents, 0);
        const [order] = await trx('orders').insert({ customer, total_cents: total }).returning('*');
        await trx('order_lines').insert(
          lines.map((line) => ({
            order_id: order.id,
            sku: line.sku,
            quantity: line.quantity,
            price_cents: line.priceCents,
          })),
        );
        return order as Order;
      }),
    /** The latest orders, read from a replica. */
    listOrders: async (limit = 20): Promise<Order[]> =>
      knex('orders').orderBy('id', 'desc').limit(limit),
    /** One order with its lines (read-your-writes keeps it fresh right after placing it). */
    getOrder: async (id: number): Promise<Order | undefined> => {
      const order = (await knex('orders').where({ id }).first()) as Order | undefined;
      if (!order) return undefined;
      order.lines = await knex('order_lines')
        .select('sku', 'quantity', 'price_cents')
        .where({ order_id: id })
        .orderBy('id');
      return order;
    },
    /**
     * Cancels a placed order. The status it decides on must not be stale, so it is read from the
     * primary (a replica could still show a cancelled order as placed).
     */
    cancelOrder: async (id: number): Promise<'cancelled' | 'not-found' | 'not-cancellable'> => {
      const order = (await readFromPrimary(() => knex('orders').where({ id }).first())) as
        Order | undefined;
      if (!order) return 'not-found';
      if (order.status !== 'placed') return 'not-cancellable';
      const updated = await knex('orders')
        .where({ id, status: 'placed' })
        .update({ status: 'cancelled' });
      return updated === 1 ? 'cancelled' : 'not-cancellable';
    },
    /** Audit entries, newest first (from a replica). */
    auditLog: async (limit = 50): Promise<AuditEntry[]> =>
      knex('audit_log')
        .orderBy([
          { column: 'commit_lsn', order: 'desc' },
          { column: 'position', order: 'desc' },
        ])
        .limit(limit),
  };
}

/** A running orders service (see {@link createOrders}). */
export type Orders = Awaited<ReturnType<typeof createOrders>>;
