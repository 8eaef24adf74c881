// Runs the orders service: DATABASE_URL (primary), REPLICA_URLS (comma-separated), PORT.
import { serve } from '@hono/node-server';
import { createKoyoLogger } from '@koyo/dispatcher';
import { createOrdersApp } from './http.js';
import { createOrders } from './orders.js';

const primaryUrl = process.env.DATABASE_URL;
if (!primaryUrl) {
  console.error('orders-knex: set DATABASE_URL to the primary (and REPLICA_URLS to its replicas).');
  process.exit(2);
}
const replicaUrls = (process.env.REPLICA_URLS ?? '')
  .split(',')
  .map((url) => url.trim())
  .filter(Boolean);
const orders = await createOrders({
  primaryUrl,
  replicaUrls,
  logger: createKoyoLogger(),
  onQueryLog: (line) => console.log(line),
});
await orders.start();
const server = serve(
  { fetch: createOrdersApp(orders).fetch, port: Number(process.env.PORT ?? 3001) },
  (info) => console.log(`orders-knex listening on http://localhost:${info.port}`),
);
const shutdown = (): void => {
  server.close();
  void orders.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
