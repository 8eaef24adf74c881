// `pnpm demo`: koyo's main job, end to end. Starts a throwaway primary + replica (or uses
// DATABASE_URL / REPLICA_URLS), runs the search-sync (Drizzle) and orders-knex (Knex) services
// on local ports, sends them traffic over HTTP and narrates what koyo does. Ends by itself with a
// summary line and exit 0; `--watch` keeps traffic going until Ctrl-C.
import { serveStatus, type StatusServer } from '@koyo/status';
import { serve, type ServerType } from '@hono/node-server';
import { createCatalog, createCatalogApp, RYW_HEADER, type Catalog } from '@koyo/demo-search-sync';
import { createOrders, createOrdersApp, type Orders } from '@koyo/demo-orders-knex';
import { createSlotManager } from '@koyo/slot';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createNatsRelay, type NatsRelay } from '@koyo/nats';
import {
  findNatsServer,
  startCluster,
  startNats,
  type Cluster,
  type NatsServer,
} from '@koyo/testing';
import pg from 'pg';
import { indexPage, curl, ORDERS_ENDPOINTS, SEARCH_ENDPOINTS, type Endpoint } from './endpoints.js';
import { HttpClient } from './http-client.js';
import { Narrator } from './narrator.js';

const USAGE =
  'usage: pnpm demo [--watch]\n  env DATABASE_URL=postgres://... [REPLICA_URLS=url,url] runs against your own servers';
const args = process.argv.slice(2);
if (args.some((arg) => arg !== '--watch')) {
  console.error(`demo: unknown argument ${args.find((arg) => arg !== '--watch')}\n${USAGE}`);
  process.exit(2);
}
const watch = args.includes('--watch');
// Each is a slot and a publication of the same name (removed from your server at the end).
const SLOTS = { search: 'koyo_demo_search', orders: 'koyo_demo_orders', relay: 'koyo_demo_relay' };

const say = new Narrator();
const started = Date.now();
let cluster: Cluster | undefined;
let catalog: Catalog | undefined;
let orders: Orders | undefined;
const servers: ServerType[] = [];
const statusPages: StatusServer[] = [];
let nats: NatsServer | undefined;
let relay: NatsRelay | undefined;
const workers: ChildProcess[] = [];

async function connectTargets(): Promise<{ primaryUrl: string; replicaUrls: string[] }> {
  const primaryUrl = process.env.DATABASE_URL;
  if (primaryUrl) {
    const replicaUrls = (process.env.REPLICA_URLS ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter(Boolean);
    say.line(
      'setup',
      `your servers: primary from DATABASE_URL, ${replicaUrls.length} replica(s) from REPLICA_URLS`,
    );
    return { primaryUrl, replicaUrls };
  }
  say.line(
    'setup',
    'no DATABASE_URL: starting a throwaway PostgreSQL primary + 1 streaming replica ...',
  );
  cluster = await startCluster({ replicas: 1 });
  say.line(
    'setup',
    `PostgreSQL ${cluster.binaries.version} (${cluster.binaries.flavour}), primary :${cluster.primary.port}, replica :${cluster.replicas[0]!.port}, ready in ${Date.now() - started} ms`,
  );
  return {
    primaryUrl: cluster.primary.url,
    replicaUrls: cluster.replicas.map((replica) => replica.url),
  };
}

/** Serves `app` on a free local port, with `GET /` listing its endpoints; resolves with its base URL. */
function listen(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  title: string,
  endpoints: Endpoint[],
): Promise<string> {
  return new Promise((resolve) => {
    let base = '';
    const fetch = (request: Request): Response | Promise<Response> =>
      request.method === 'GET' && new URL(request.url).pathname === '/'
        ? new Response(indexPage(title, base, endpoints))
        : app.fetch(request);
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve(base);
    });
    servers.push(server);
  });
}

async function query(url: string, sql: string): Promise<string> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return String((await client.query<{ v: string }>(sql)).rows[0]?.v);
  } finally {
    await client.end();
  }
}

async function countRows(url: string, table: string): Promise<number> {
  return Number(await query(url, `SELECT count(*)::text AS v FROM ${table}`));
}

async function replicaLagBytes(primaryUrl: string, replicaUrl: string): Promise<number> {
  const head = await query(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS v');
  const lag = await query(
    replicaUrl,
    `SELECT pg_wal_lsn_diff('${head}', pg_last_wal_replay_lsn())::bigint::text AS v`,
  );
  return Number(lag);
}

const EXISTING_PRODUCTS = 40_000;

/** Products that exist before search-sync starts (only into an empty table: your data stays). */
async function seedExistingProducts(url: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
    if (rows[0]!.n > 0) return rows[0]!.n;
    await client.query(
      `INSERT INTO products (name, description, price_cents)
       SELECT CASE WHEN g = ${EXISTING_PRODUCTS / 2} THEN 'Brass samovar' ELSE 'Catalogue item ' || g END, 'from the old shop', 100 + g % 5000
         FROM generate_series(1, ${EXISTING_PRODUCTS}) g`,
    );
    await client.query('ANALYZE products'); // the estimate the progress bar's percentage uses
    return EXISTING_PRODUCTS;
  } finally {
    await client.end();
  }
}

/** A progress bar (a line per second off a terminal) until the backfill of products is done. */
async function showBackfill(shop: Catalog): Promise<void> {
  const tty = process.stdout.isTTY === true;
  let last = 0;
  const render = (): void => {
    const table = shop.dispatcher.stats().backfill[0];
    if (!table) return;
    const total = Math.max(table.estimatedTotal ?? table.rows, table.rows, 1);
    const ratio = Math.min(1, table.rows / total);
    const bar = `${'█'.repeat(Math.round(ratio * 24))}${'░'.repeat(24 - Math.round(ratio * 24))}`;
    const text = `backfill ${table.table} [${bar}] ${Math.floor(ratio * 100)}% ${table.rows.toLocaleString('en-US')} rows, ${table.rowsPerSecond.toLocaleString('en-US')}/s`;
    if (tty) process.stdout.write(`\r\x1b[2K${'  koyo'.padEnd(8)}${text}`);
    else if (Date.now() - last >= 1000 || table.state !== 'running') {
      last = Date.now();
      say.line('  koyo', text);
    }
  };
  const timer = setInterval(render, 100);
  try {
    await shop.backfilled();
  } finally {
    clearInterval(timer);
  }
  render();
  if (tty) process.stdout.write('\n');
  const done = shop.dispatcher.stats().backfill[0]!;
  say.line(
    'search',
    `backfill done: ${done.rows.toLocaleString('en-US')} 'snapshot' changes handled at ${done.rowsPerSecond.toLocaleString('en-US')} rows/s, while the stream kept flowing; the index holds ${shop.index.size.toLocaleString('en-US')} products`,
  );
}

async function tour(primaryUrl: string, replicaUrls: string[]): Promise<void> {
  // Both apps use the same databases; each has its own slot and its queries narrated under its name.
  const appOptions = (app: 'search' | 'orders') => ({
    primaryUrl,
    replicaUrls,
    slot: SLOTS[app],
    publication: SLOTS[app],
    onQueryLog: (line: string) => say.query(app, line),
  });
  catalog = await createCatalog(appOptions('search'));
  orders = await createOrders(appOptions('orders'));
  for (const dispatcher of [catalog.dispatcher, orders.dispatcher])
    dispatcher.onChange((change) => say.change(change.table, change.kind, change.id));

  say.section('0. Rows that existed before the app started become searchable (backfill)');
  const existing = await seedExistingProducts(primaryUrl);
  say.line(
    'setup',
    `${existing.toLocaleString('en-US')} products are in the table before search-sync starts; its index starts empty`,
  );
  await catalog.start();
  await showBackfill(catalog);
  await orders.start();
  const shop = new HttpClient(
    await listen(
      createCatalogApp(catalog, catalog.db.$router),
      'search-sync (Drizzle)',
      SEARCH_ENDPOINTS,
    ),
    RYW_HEADER,
  );
  const samovar = (await shop.send('GET', '/search?q=samovar')).body as unknown[];
  say.line(
    'search',
    `GET /search?q=samovar -> ${samovar.length} hit(s): a product from before the start, brought by backfill: 'initial' through the same handlers`,
  );
  const till = new HttpClient(
    await listen(createOrdersApp(orders), 'orders-knex (Knex)', ORDERS_ENDPOINTS),
    undefined,
  );
  say.line(
    'setup',
    `search-sync (Drizzle) on ${shop.base}, orders-knex (Knex) on ${till.base}; change handlers streaming from slots ${SLOTS.search} and ${SLOTS.orders}`,
  );
  say.line(
    'setup',
    `try them (GET / on each lists every endpoint): curl '${shop.base}/'  or  ${curl(shop.base, SEARCH_ENDPOINTS[0]!)}  or  ${curl(till.base, ORDERS_ENDPOINTS[0]!)}`,
  );
  const { catalog: shopCatalog, orders: tillOrders } = { catalog, orders };
  const status = await serveStatus({
    dispatcher: catalog.dispatcher,
    router: catalog.db.$router,
    port: 0,
    title: `search-sync: slot ${SLOTS.search}`,
    connection: primaryUrl,
  });
  const ordersStatus = await serveStatus({
    dispatcher: orders.dispatcher,
    port: 0,
    title: `orders-knex: slot ${SLOTS.orders}`,
    connection: primaryUrl,
  });
  statusPages.push(status, ordersStatus);
  say.line(
    'setup',
    `live status pages (lag, changes/s, handler time, replicas): ${status.url}  and  ${ordersStatus.url}${watch ? '' : ' (kept open with --watch)'}`,
  );

  say.section('1. A row changes, the app reacts: the search index follows the products table');
  const created: { id: number; name: string }[] = [];
  for (const product of [
    { name: 'Cast iron teapot', description: 'Keeps tea hot for an hour', priceCents: 4900 },
    { name: 'Gooseneck kettle', description: 'Pour-over precision', priceCents: 6500 },
    { name: 'Bamboo whisk', description: 'For matcha', priceCents: 1200 },
  ]) {
    const response = await shop.send('POST', '/products', product);
    created.push(response.body as { id: number; name: string });
  }
  await shopCatalog.dispatcher.drain();
  const teapots = (await shop.send('GET', '/search?q=teapot')).body as unknown[];
  say.line(
    'search',
    `GET /search?q=teapot -> ${teapots.length} hit(s): the index was filled only by change handlers`,
  );
  await shop.send('PATCH', `/products/${created[0]!.id}`, { name: 'Cast iron tetsubin' });
  await shopCatalog.dispatcher.drain();
  const renamed = (await shop.send('GET', '/search?q=tetsubin')).body as unknown[];
  say.line('search', `PATCH renamed it; GET /search?q=tetsubin -> ${renamed.length} hit(s)`);

  say.section('2. Reads go to the replica, writes and transactions to the primary');
  await shop.send('GET', '/products', undefined, { fresh: true });
  const order = (
    await till.send('POST', '/orders', {
      customer: 'ada',
      lines: [
        { sku: 'TEA-1', quantity: 2, priceCents: 4900 },
        { sku: 'WSK-1', quantity: 1, priceCents: 1200 },
      ],
    })
  ).body as { id: number };
  await till.send('GET', '/orders');
  const cancel = await till.send('POST', `/orders/${order.id}/cancel`);
  say.line(
    'orders',
    `order ${order.id} placed in a transaction, then cancelled (HTTP ${cancel.status}) after reading its status with readFromPrimary`,
  );

  say.section('3. Read-your-writes: a read right after a write still sees it');
  const replica = cluster?.replicas[0];
  if (replica) {
    await replica.pauseReplay();
    say.line('replica', 'replay paused on the replica: it now lags behind the primary');
  } else {
    say.line(
      'replica',
      replicaUrls.length === 0
        ? 'your servers, no REPLICA_URLS: every read goes to the primary, so this step cannot show a replica lagging behind'
        : 'your servers: the demo does not pause replay on your replica, so the read below proves read-your-writes only if the replica happens to lag (run without DATABASE_URL to see it on a paused replica)',
    );
  }
  const fresh = (await shop.send('POST', '/products', { name: 'Copper kettle', priceCents: 8900 }))
    .body as { id: number };
  if (replicaUrls[0])
    say.line(
      'replica',
      `replica lag now ${await replicaLagBytes(primaryUrl, replicaUrls[0])} bytes`,
    );
  const own = await shop.send('GET', `/products/${fresh.id}`);
  say.line(
    'search',
    `GET /products/${fresh.id} with the client's read-your-writes token -> HTTP ${own.status}`,
  );
  const stranger = await shop.send('GET', `/products/${fresh.id}`, undefined, { fresh: true });
  say.line(
    'search',
    `the same GET from a client without the token -> HTTP ${stranger.status}${replica ? ' (the paused replica has not replayed the insert yet)' : ''}`,
  );
  if (replica) {
    await replica.resumeReplay();
    await cluster!.syncReplicas();
    const later = await shop.send('GET', `/products/${fresh.id}`, undefined, { fresh: true });
    say.line(
      'replica',
      `replay resumed; the token-less GET -> HTTP ${later.status} from the replica`,
    );
  }

  say.section('4. An audit log written by a change handler, exactly once per change');
  await shop.send('DELETE', `/products/${created[2]!.id}`);
  await Promise.all([shopCatalog.dispatcher.drain(), tillOrders.dispatcher.drain()]);
  const audited = await countRows(primaryUrl, 'audit_log');
  const latest = (await till.send('GET', '/audit')).body as unknown[];
  say.line(
    'orders',
    `audit_log holds ${audited} entries on the primary (GET /audit from the replica shows ${latest.length}), keyed by (commit_lsn, position): a redelivered change adds nothing`,
  );
  const whisk = (await shop.send('GET', '/search?q=whisk')).body as unknown[];
  say.line('search', `deleted the whisk; GET /search?q=whisk -> ${whisk.length} hit(s)`);

  say.section(
    '5. Scale-out: a relay into NATS JetStream, two worker processes, one killed mid-way',
  );
  if (findNatsServer()) await scaleOut(primaryUrl, till);
  else
    say.line(
      'nats',
      'skipped: no nats-server binary on this machine; install it (apt-get install nats-server, or put nats-server on PATH) and run pnpm demo again to see it',
    );

  if (watch) {
    say.section('watching: a new order and product every 2 s; Ctrl-C to stop');
    let n = 0;
    for (;;) {
      n += 1;
      await till.send('POST', '/orders', {
        customer: `watcher${n}`,
        lines: [{ sku: `SKU-${n}`, quantity: 1, priceCents: 100 * n }],
      });
      await shop.send('POST', '/products', { name: `Watch product ${n}`, priceCents: 100 * n });
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  const stats = say.stats();
  say.summary(
    `summary: ok in ${((Date.now() - started) / 1000).toFixed(1)} s; ${stats.changes} changes handled (${stats.perTable}); ` +
      `queries: ${stats.replica} on replicas, ${stats.primary} on the primary; search index ${shopCatalog.index.size} products; audit log ${audited} entries`,
  );
}

interface WorkerLine {
  event: string;
  worker: string;
  id: number;
  kind: string;
  status: string | null;
  commitLsn: string;
  position: number;
}

const SCALE = { stream: 'KOYO_DEMO', durable: 'koyo_demo_fleet', partitions: 4, orders: 8 };

/** Starts one worker process (src/scale-worker.ts) under the same Node flags as the tour. */
function startWorker(
  natsUrl: string,
  name: string,
  lines: WorkerLine[],
): { child: ChildProcess; ready: Promise<void> } {
  const script = fileURLToPath(new URL('./scale-worker.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      script,
      natsUrl,
      SCALE.stream,
      SCALE.durable,
      String(SCALE.partitions),
      name,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  workers.push(child);
  const ready = new Promise<void>((resolve, reject) => {
    let rest = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const part of parts) {
        if (!part.startsWith('{')) continue;
        const line = JSON.parse(part) as WorkerLine;
        if (line.event === 'ready') resolve();
        else {
          lines.push(line);
          if (line.event === 'done')
            say.line(
              '  fleet',
              `worker ${line.worker} handled ${line.kind} orders id=${line.id}${line.status ? ` (${line.status})` : ''}`,
            );
        }
      }
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`worker ${name} exited (${signal ?? code}) before it was ready`)),
    );
  });
  return { child, ready };
}

/** Resolves once `check()` holds, polling; rejects after `ms` saying what it waited for. */
async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const compareLsn = (a: WorkerLine, b: WorkerLine): number => {
  const lsn = (text: string): bigint => {
    const [hi, lo] = text.split('/');
    return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
  };
  const d = lsn(a.commitLsn) - lsn(b.commitLsn);
  return d < 0n ? -1 : d > 0n ? 1 : a.position - b.position;
};

/**
 * The orders table's changes go through a relay (its own slot) into a JetStream stream; two
 * worker processes share its partitions; one is killed mid-way and the other takes over.
 */
async function scaleOut(primaryUrl: string, till: HttpClient): Promise<void> {
  nats = await startNats();
  say.line(
    'nats',
    `nats-server -js on ${nats.url}; relay: slot ${SLOTS.relay} -> stream ${SCALE.stream}, ${SCALE.partitions} partitions by order id`,
  );
  relay = createNatsRelay({
    dispatcher: {
      connection: primaryUrl,
      slot: SLOTS.relay,
      publication: SLOTS.relay,
      tables: ['orders'],
      logger: false,
    },
    nats: { servers: nats.url },
    stream: SCALE.stream,
    partitions: SCALE.partitions,
  });
  await relay.start();
  const lines: WorkerLine[] = [];
  const [one, two] = [startWorker(nats.url, '1', lines), startWorker(nats.url, '2', lines)];
  await Promise.all([one.ready, two.ready]);
  say.line(
    'nats',
    `workers 1 and 2 (pids ${one.child.pid}, ${two.child.pid}) share durable ${SCALE.durable}: each partition goes to one worker at a time, in commit order`,
  );

  // Each order: placed (insert), then paid and shipped (two updates): three changes per key.
  const placed: number[] = [];
  for (let n = 1; n <= SCALE.orders; n++) {
    const order = (
      await till.send('POST', '/orders', {
        customer: `fleet${n}`,
        lines: [{ sku: `FLEET-${n}`, quantity: 1, priceCents: 500 * n }],
      })
    ).body as { id: number };
    placed.push(order.id);
  }
  const client = new pg.Client(primaryUrl);
  await client.connect();
  try {
    for (const status of ['paid', 'shipped'])
      await client.query('UPDATE orders SET status = $1 WHERE id = ANY($2::int[])', [
        status,
        placed,
      ]);
  } finally {
    await client.end();
  }
  const total = placed.length * 3;
  say.line(
    'orders',
    `${placed.length} orders placed, then paid, then shipped: ${total} changes of orders for the fleet`,
  );

  // Kill worker 1 once the fleet has handled a third of the changes (it likely holds some it has
  // not finished).
  await until(
    () => lines.filter((line) => line.event === 'done').length >= total / 3,
    `the fleet to handle ${total / 3} changes`,
  );
  one.child.kill('SIGKILL');
  const killedAt = lines.length;
  const unfinished = lines.filter(
    (line) =>
      line.worker === '1' &&
      line.event === 'took' &&
      !lines.some(
        (done) =>
          done.event === 'done' &&
          done.worker === '1' &&
          done.commitLsn === line.commitLsn &&
          done.position === line.position,
      ),
  );
  say.line(
    'nats',
    `killed worker 1 (SIGKILL) mid-way${unfinished.length > 0 ? `, while it handled ${unfinished.map((line) => `${line.kind} id=${line.id}`).join(', ')}` : ''}: its unacknowledged messages go to worker 2 after ackWait (1.5 s)`,
  );

  const key = (line: WorkerLine): string => `${line.commitLsn}/${line.position}`;
  const handled = (): Set<string> =>
    new Set(lines.filter((line) => line.event === 'done').map(key));
  await until(() => handled().size >= total, `the fleet to handle all ${total} changes`);
  const byWorker2 = lines
    .slice(killedAt)
    .filter((line) => line.event === 'done' && line.worker === '2').length;
  const retaken = unfinished.filter((line) =>
    lines.some((done) => done.event === 'done' && done.worker === '2' && key(done) === key(line)),
  );
  say.line(
    'nats',
    `worker 2 took over: ${byWorker2} change(s) after the kill${retaken.length > 0 ? `, ${retaken.map((line) => `${line.kind} id=${line.id}`).join(', ')} again (at least once: handlers dedupe by commitLsn/position)` : ''}`,
  );

  // Per key: the order the changes were finished in, across both workers.
  let inOrder = true;
  for (const id of placed) {
    const done: WorkerLine[] = [];
    for (const line of lines)
      if (line.event === 'done' && line.id === id && !done.some((seen) => key(seen) === key(line)))
        done.push(line);
    const sorted = [...done].sort(compareLsn);
    if (done.some((line, i) => line !== sorted[i])) inOrder = false;
    say.line(
      '  fleet',
      `order ${id}: ${done.map((line) => `${line.status ?? line.kind} (worker ${line.worker})`).join(' -> ')}`,
    );
  }
  say.line(
    'nats',
    `per-key order kept: ${inOrder ? 'yes' : 'NO'}; every change handled: ${handled().size} of ${total}`,
  );
  if (!inOrder) throw new Error("the fleet handled an order's changes out of commit order");

  two.child.kill('SIGTERM');
  await new Promise<void>((resolve) =>
    two.child.exitCode !== null || two.child.signalCode !== null
      ? resolve()
      : two.child.once('exit', () => resolve()),
  );
  await relay.stop();
  relay = undefined;
}

async function cleanup(primaryUrl: string | undefined): Promise<void> {
  for (const child of workers)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const server of servers) server.close();
  await relay?.stop().catch(() => undefined);
  await nats?.close().catch(() => undefined);
  for (const page of statusPages) await page.close();
  await catalog?.stop().catch(() => undefined);
  await orders?.stop().catch(() => undefined);
  if (primaryUrl && !cluster) {
    // On your own server the demo removes its slots, so they cannot pin WAL after it exits.
    const manager = createSlotManager(primaryUrl);
    for (const slot of Object.values(SLOTS))
      await manager.dropSlot(slot, { force: true }).catch(() => undefined);
    // The publications are the demo's own (named like its slots): they go too, so runs do not pile up.
    for (const publication of Object.values(SLOTS))
      await manager.dropPublication(publication).catch(() => undefined);
    await manager.close();
    say.line(
      'setup',
      `removed the demo's slots and publications (${Object.values(SLOTS).join(', ')}) from your server; its tables stay (products, orders, audit_log, ...)`,
    );
  }
  await cluster?.stop();
}

let targets: { primaryUrl: string; replicaUrls: string[] } | undefined;
let stopping = false;
async function finish(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // While the throwaway servers shut down, an idle pooled connection of the apps may report
    // the lost connection after its pool was let go: that is the shutdown itself, not a failure.
    process.on('uncaughtException', (error) => {
      if (!/Connection terminated|terminating connection/.test(error.message)) throw error;
    });
    await cleanup(targets?.primaryUrl);
  }
  process.exit(code);
}
/** Ctrl-C (or SIGTERM): a summary of what ran, the clean-up, exit 0. */
function interrupted(signal: NodeJS.Signals): void {
  if (stopping) return;
  const stats = say.stats();
  say.summary(
    `summary: stopped by ${signal === 'SIGINT' ? 'Ctrl-C' : signal} after ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
      `${stats.changes} changes handled (${stats.perTable}); queries: ${stats.replica} on replicas, ${stats.primary} on the primary; cleaning up`,
  );
  void finish(0);
}
// `on`, not `once`: pnpm forwards the terminal's Ctrl-C a second time, which must not kill the clean-up.
process.on('SIGINT', interrupted);
process.on('SIGTERM', interrupted);

try {
  targets = await connectTargets();
  await tour(targets.primaryUrl, targets.replicaUrls);
  await finish(0);
} catch (error) {
  // After Ctrl-C the clean-up stops the servers under a request in flight (the --watch traffic):
  // that failure is the shutdown itself; the clean-up started by the signal exits 0.
  if (!stopping) {
    console.error(`demo: failed: ${error instanceof Error ? error.message : String(error)}`);
    await finish(1);
  }
}
