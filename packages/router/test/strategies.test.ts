import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KoyoRouterError,
  type ReplicaStatus,
  type RouterOptions,
  type StrategyQuery,
} from '../src/index.js';
import { createRoutedPool } from '../src/pg.js';
import { createRoutedSql } from '../src/postgres.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('router_strategies');
});
afterAll(async () => {
  await db?.drop();
});

type Open = (
  options: RouterOptions,
  weights?: number[],
) => { port(): Promise<number>; end(): Promise<void> };

const openPg: Open = (options, weights) => {
  const replicas = db.replicaUrls.map((url, i) =>
    weights ? { connectionString: url, weight: weights[i]! } : url,
  );
  const pool = createRoutedPool({ primary: db.url, replicas, ...options });
  return {
    port: async () =>
      (await pool.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port,
    end: () => pool.end(),
  };
};

const openPostgres: Open = (options, weights) => {
  const replicas = db.replicaUrls.map((url, i) => (weights ? { url, weight: weights[i]! } : url));
  const sql = createRoutedSql({ primary: db.url, replicas, ...options });
  return {
    port: async () => ((await sql`SELECT inet_server_port() AS port`)[0] as { port: number }).port,
    end: () => sql.end(),
  };
};

describe.each([
  ['pg', openPg],
  ['postgres', openPostgres],
] as const)('replica strategies through %s', (_kind, open) => {
  const replicaPort = (i: number): number => db.cluster.replicas[i]!.port;

  it('random (default) spreads reads over both replicas', async () => {
    const h = open({});
    try {
      const seen = new Set<number>();
      for (let i = 0; i < 40; i++) seen.add(await h.port());
      expect([...seen].sort()).toEqual([replicaPort(0), replicaPort(1)].sort());
    } finally {
      await h.end();
    }
  });

  it('round-robin alternates', async () => {
    const h = open({ strategy: 'round-robin' });
    try {
      const ports: number[] = [];
      for (let i = 0; i < 6; i++) ports.push(await h.port());
      for (let i = 1; i < ports.length; i++) expect(ports[i]).not.toBe(ports[i - 1]);
      expect(new Set(ports)).toEqual(new Set([replicaPort(0), replicaPort(1)]));
    } finally {
      await h.end();
    }
  });

  it('weighted follows the weights', async () => {
    const h = open({ strategy: 'weighted' }, [1, 1e-12]);
    try {
      for (let i = 0; i < 20; i++) expect(await h.port()).toBe(replicaPort(0));
    } finally {
      await h.end();
    }
  });

  it('a custom function gets the query kind and every replica, and picks one (or none)', async () => {
    const calls: [StrategyQuery, readonly ReplicaStatus[]][] = [];
    let pick: string | null = 'replica2';
    const h = open({
      strategy: (query, replicas) => {
        calls.push([query, replicas]);
        return pick;
      },
    });
    try {
      for (let i = 0; i < 5; i++) expect(await h.port()).toBe(replicaPort(1));
      expect(calls[0]![0]).toMatchObject({ kind: 'read', command: 'SELECT' });
      expect(calls[0]![1].map((r) => [r.name, r.healthy, r.withinLag])).toEqual([
        ['replica1', true, true],
        ['replica2', true, true],
      ]);
      pick = null; // none: fallback to the primary
      expect(await h.port()).toBe(db.cluster.primary.port);
    } finally {
      await h.end();
    }
    const bad = open({ strategy: () => 'nope' });
    try {
      await expect(bad.port()).rejects.toBeInstanceOf(KoyoRouterError);
    } finally {
      await bad.end();
    }
  });
});
