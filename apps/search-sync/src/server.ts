// Runs the catalogue as a service: DATABASE_URL (primary), REPLICA_URLS (comma-separated), PORT.
import { serve } from '@hono/node-server';
import { createKoyoLogger } from '@koyo/dispatcher';
import { createCatalog } from './catalog.js';
import { createCatalogApp } from './http.js';

const primaryUrl = process.env.DATABASE_URL;
if (!primaryUrl) {
  console.error('search-sync: set DATABASE_URL to the primary (and REPLICA_URLS to its replicas).');
  process.exit(2);
}
const replicaUrls = (process.env.REPLICA_URLS ?? '')
  .split(',')
  .map((url) => url.trim())
  .filter(Boolean);
const catalog = await createCatalog({
  primaryUrl,
  replicaUrls,
  logger: createKoyoLogger(),
  onQueryLog: (line) => console.log(line),
});
await catalog.start();
const server = serve(
  {
    fetch: createCatalogApp(catalog, catalog.db.$router).fetch,
    port: Number(process.env.PORT ?? 3000),
  },
  (info) => console.log(`search-sync listening on http://localhost:${info.port}`),
);
const shutdown = (): void => {
  server.close();
  void catalog.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
