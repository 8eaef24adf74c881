import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '@koyo/testing';
import { createRoutedPool, type RoutedPool } from '../src/pg.js';
import { positionFetch } from '../src/index.js';
import { waitForReplay } from './_helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const ITERATIONS = 2000;

let cluster: Cluster;
let serviceA: Service;
let serviceB: Service;
let ports: { primary: number; replicas: number[] };

interface Service {
  readonly url: string;
  readonly child: ChildProcess;
}

function startService(file: string): Promise<Service> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@koyo/source',
      '--import',
      'tsx',
      join(here, 'fixtures', file),
      cluster.primary.url,
      cluster.replicas.map((r) => r.url).join(','),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let text = '';
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening (\d+)/.exec(text);
      if (match !== null) resolve({ url: `http://127.0.0.1:${match[1]}`, child });
    });
  });
}

async function portOf(url: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!
      .port;
  } finally {
    await client.end();
  }
}

/** A writes a row and answers with the position; B reads the row with that position. */
async function writeThenRead(i: number): Promise<{ stale: boolean; port: number | null }> {
  const val = `v${i}`;
  const write = await fetch(`${serviceA.url}/items?val=${val}`, { method: 'POST' });
  const { id } = (await write.json()) as { id: string };
  const token = write.headers.get('koyo-lsn');
  expect(token).toMatch(/^koyo1\.lsn\./);
  const read = await fetch(`${serviceB.url}/items/${id}`, { headers: { 'koyo-lsn': token! } });
  const body = (await read.json()) as { val?: string; port: number | null };
  return { stale: read.status !== 200 || body.val !== val, port: body.port };
}

beforeAll(async () => {
  cluster = await startCluster({ replicas: 2 });
  const admin = new pg.Client(cluster.primary.url);
  await admin.connect();
  await admin.query('CREATE TABLE items (id bigserial PRIMARY KEY, val text NOT NULL)');
  await admin.end();
  await waitForReplay(
    cluster.primary.url,
    cluster.replicas.map((r) => r.url),
  );
  ports = {
    primary: await portOf(cluster.primary.url),
    replicas: await Promise.all(cluster.replicas.map((r) => portOf(r.url))),
  };
  [serviceA, serviceB] = await Promise.all([
    startService('service-a.ts'),
    startService('service-b.ts'),
  ]);
}, 120_000);

afterAll(async () => {
  for (const service of [serviceA, serviceB]) service?.child.kill('SIGTERM');
  await cluster?.stop();
});

describe('causal reads across two services (Hono writes, Express reads)', () => {
  it('never reads older than the token while one replica is paused; a read without it does', async () => {
    const paused = cluster.replicas[1]!;
    await paused.pauseReplay();
    try {
      // Without the position, B's reads round-robin onto the paused replica and miss new rows:
      // the scenario can produce stale reads, so the 0 below means something.
      let staleWithout = 0;
      for (let i = 0; i < 20; i++) {
        const write = await fetch(`${serviceA.url}/items?val=w${i}`, { method: 'POST' });
        const { id } = (await write.json()) as { id: string };
        const read = await fetch(`${serviceB.url}/items/${id}`);
        if (read.status === 404) staleWithout++;
      }
      expect(staleWithout).toBeGreaterThan(0);

      let stale = 0;
      const served = new Map<number | null, number>();
      for (let i = 0; i < ITERATIONS; i++) {
        const result = await writeThenRead(i);
        if (result.stale) stale++;
        served.set(result.port, (served.get(result.port) ?? 0) + 1);
      }
      expect(stale).toBe(0);
      expect(served.get(ports.replicas[1]!) ?? 0).toBe(0);
    } finally {
      await paused.resumeReplay();
    }
  }, 600_000);

  it('serves at least 90% of those reads from replicas while replay runs', async () => {
    await waitForReplay(
      cluster.primary.url,
      cluster.replicas.map((r) => r.url),
    );
    let stale = 0;
    let fromReplicas = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const result = await writeThenRead(i);
      if (result.stale) stale++;
      if (result.port !== null && ports.replicas.includes(result.port)) fromReplicas++;
    }
    expect(stale).toBe(0);
    expect(fromReplicas / ITERATIONS).toBeGreaterThanOrEqual(0.9);
  }, 600_000);
});

describe('middleware details', () => {
  it('an unreadable token sends the request to the primary instead of failing', async () => {
    const write = await fetch(`${serviceA.url}/items?val=t`, { method: 'POST' });
    const { id } = (await write.json()) as { id: string };
    const read = await fetch(`${serviceB.url}/items/${id}`, {
      headers: { 'koyo-lsn': 'not-a-token' },
    });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { port: number }).port).toBe(ports.primary);
  });

  it('Hono sets the cookie after a write and reads the position back from it', async () => {
    const write = await fetch(`${serviceA.url}/items?val=c`, { method: 'POST' });
    const setCookie = write.headers.get('set-cookie');
    expect(setCookie).toMatch(
      /^koyo-lsn=koyo1\.lsn\.[0-9A-F]+%2F[0-9A-F]+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    // A read with only the cookie answers with the same position (nothing written since).
    const cookie = setCookie!.split(';')[0]!;
    const read = await fetch(`${serviceA.url}/port`, { headers: { cookie } });
    expect(read.headers.get('koyo-lsn')).toBe(write.headers.get('koyo-lsn'));
  });

  it('Express (after express.json) sets the header after a write', async () => {
    const write = await fetch(`${serviceB.url}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ val: 'from-b' }),
    });
    expect(write.status).toBe(200);
    // B's readYourWrites is a time window: its write position is a time, not an LSN.
    expect(write.headers.get('koyo-lsn')).toMatch(/^koyo1\.at\.\d+$/);
  });

  it('positionFetch carries the session position both ways', async () => {
    let pool: RoutedPool | undefined;
    pool = createRoutedPool({
      primary: cluster.primary.url,
      replicas: cluster.replicas.map((r) => r.url),
      readYourWrites: { mode: 'lsn' },
    });
    try {
      const router = pool.router;
      const f = positionFetch(router);
      await router.withToken(undefined, async () => {
        // Response side: A's write position is merged into this session.
        const response = await f(`${serviceA.url}/items?val=pf`, { method: 'POST' });
        expect(router.readYourWritesToken()).toBe(response.headers.get('koyo-lsn'));
        // Request side: this session's position goes to B, which then sees A's row.
        const { id } = (await response.json()) as { id: string };
        const read = await f(`${serviceB.url}/items/${id}`);
        expect(read.status).toBe(200);
      });
    } finally {
      await pool.end();
      pool = undefined;
    }
  });
});

describe('router.readAfter', () => {
  it('waits for a replica at a change commitLsn (readYourWrites off), else reads the primary', async () => {
    const pool = createRoutedPool({
      primary: cluster.primary.url,
      replicas: cluster.replicas.map((r) => r.url),
    });
    const paused = cluster.replicas[1]!;
    await paused.pauseReplay();
    try {
      // As a handler's change.commitLsn: a position at or after the commit (a position taken
      // inside the INSERT would precede its commit record).
      const { rows } = await pool.primaryPool.query<{ id: string }>(
        "INSERT INTO items (val) VALUES ('ra') RETURNING id",
      );
      const { id } = rows[0]!;
      const lsn = (
        await pool.primaryPool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
      ).rows[0]!.lsn;
      const ports = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const read = await pool.router.readAfter(lsn, () =>
          pool.query<{ port: number }>(
            'SELECT inet_server_port() AS port FROM items WHERE id = $1',
            [id],
          ),
        );
        expect(read.rows).toHaveLength(1);
        ports.add(read.rows[0]!.port);
      }
      expect(ports.has(await portOf(paused.url))).toBe(false);
      expect(() => pool.router.readAfter('garbage', () => 1)).toThrow(
        expect.objectContaining({ code: 'INVALID_TOKEN' }),
      );
    } finally {
      await paused.resumeReplay();
      await pool.end();
    }
  });
});
