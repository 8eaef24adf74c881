// The smoke demo behind `npm run demo` until the full demo apps land: a throwaway primary and
// replica, a write on one, a read on the other, and replay lag made visible.
import { startCluster } from '@koyo/testing';

const say = (line: string): void => console.log(`demo  ${line}`);
const started = Date.now();
const cluster = await startCluster({ replicas: 1 });
const [replica] = cluster.replicas;
if (!replica) throw new Error('the demo needs a replica');
try {
  say(`PostgreSQL ${cluster.binaries.version} (${cluster.binaries.flavour}): primary :${cluster.primary.port}, replica :${replica.port}, ready in ${Date.now() - started} ms`);
  await cluster.primary.query('CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL)');
  await cluster.primary.query("INSERT INTO products (name) VALUES ('teapot'), ('kettle')");
  say('Primary: INSERT INTO products ... (2 rows)');
  await cluster.syncReplicas();
  const rows = await replica.query<{ name: string }>('SELECT name FROM products ORDER BY id');
  say(`Replica: SELECT name FROM products -> ${rows.map((row) => row.name).join(', ')}`);
  await replica.pauseReplay();
  await cluster.primary.query("INSERT INTO products (name) VALUES ('whisk')");
  const [lag] = await replica.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
  say(`replay paused: the replica still sees ${lag?.n} rows while the primary has 3 (this is replica lag)`);
  await replica.resumeReplay();
  await cluster.syncReplicas();
  const [caughtUp] = await replica.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
  say(`replay resumed: the replica sees ${caughtUp?.n} rows`);
} finally {
  await cluster.stop();
}
say(`done in ${Date.now() - started} ms; cluster stopped and removed`);
