import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { createRoutedPool } from '../src/pg.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('router_pool_events');
});
afterAll(async () => {
  await db?.drop();
});

describe('routed pg pool', () => {
  it("re-emits the node pools' acquire and release events once someone listens, for reads on a replica and writes", async () => {
    const pool = createRoutedPool({ primary: db.url, replicas: [db.replicaUrls[0]!] });
    try {
      await pool.query('SELECT 1'); // before anyone listens: nothing to re-emit
      const seen: string[] = [];
      pool.on('acquire', () => seen.push('acquire'));
      pool.on('release', () => seen.push('release'));
      await pool.query('SELECT 1');
      await pool.query('CREATE TEMP TABLE IF NOT EXISTS t (x int)');
      expect(seen).toEqual(['acquire', 'release', 'acquire', 'release']);
      expect(pool.router.stats().replicas[0]!.reads).toBe(2);
    } finally {
      await pool.end();
    }
  });

  it('re-emits events listened for after removeAllListeners()', async () => {
    const pool = createRoutedPool({ primary: db.url });
    try {
      pool.removeAllListeners();
      const seen: string[] = [];
      pool.on('acquire', () => seen.push('acquire'));
      await pool.query('SELECT 1');
      expect(seen).toEqual(['acquire']);
    } finally {
      await pool.end();
    }
  });

  it('settles only once the statements in flight have settled', async () => {
    const pool = createRoutedPool({ primary: db.url, replicas: [db.replicaUrls[0]!] });
    try {
      let finished = false;
      const running = pool.query('SELECT pg_sleep(0.2)').then(() => {
        finished = true;
      });
      await pool.router.settled();
      expect(finished).toBe(true);
      await running;
    } finally {
      await pool.end();
    }
  });
});
