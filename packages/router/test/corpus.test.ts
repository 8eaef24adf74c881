import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../src/index.js';
import { createRoutedPool } from '../src/pg.js';
import { createRoutedSql } from '../src/postgres.js';
import { corpus, SCHEMA } from './_corpus.js';
import { queryUrl, recorder, waitForReplay } from './_helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('router_corpus');
  await queryUrl(db.url, SCHEMA);
  await waitForReplay(db.url, db.replicaUrls);
});
afterAll(async () => {
  await db?.drop();
});

interface Harness {
  router: Router<unknown>;
  run(sql: string): Promise<Record<string, unknown>[]>;
  inTransaction(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

const adapters: Record<string, (rec: ReturnType<typeof recorder>) => Harness> = {
  pg: (rec) => {
    const pool = createRoutedPool({
      primary: db.url,
      replicas: db.replicaUrls,
      pool: { max: 1 },
      logger: rec.logger,
    });
    return {
      router: pool.router,
      run: async (sql) => {
        const result = (await pool.query(sql)) as unknown as
          { rows: Record<string, unknown>[] } | { rows: Record<string, unknown>[] }[];
        return Array.isArray(result) ? result.at(-1)!.rows : result.rows;
      },
      inTransaction: (sql) => pool.transaction(() => pool.query(sql)),
      end: () => pool.end(),
    };
  },
  postgres: (rec) => {
    const sql = createRoutedSql({
      primary: db.url,
      replicas: db.replicaUrls,
      postgres: { max: 1, onnotice: () => undefined },
      logger: rec.logger,
    });
    return {
      router: sql.router as Router<unknown>,
      run: async (text) => await sql.unsafe(text),
      inTransaction: (text) => sql.begin(() => sql.unsafe(text)),
      end: () => sql.end(),
    };
  },
};

describe.each([
  ['pg', 1000],
  ['postgres', 2000],
])('the statement corpus through %s', (kind, base) => {
  const rec = recorder();
  let h: Harness;
  beforeAll(() => {
    h = adapters[kind]!(rec);
  });
  afterAll(async () => {
    await h.end();
  });

  it('has at least 80 statements', () => {
    expect(corpus(base).length).toBeGreaterThanOrEqual(80);
  });

  it('runs every read on a standby and every write on the primary', async () => {
    const ports = new Map<string, number>([['primary', db.cluster.primary.port]]);
    db.cluster.replicas.forEach((r, i) => ports.set(`replica${i + 1}`, r.port));
    let reads = 0;
    let writes = 0;
    for (const entry of corpus(base)) {
      const label = `${kind}: ${entry.sql}`;
      if (process.env.KOYO_DEBUG) console.error(label);
      const decision = h.router.explain(entry.sql);
      expect(decision.classification.role, label).toBe(entry.role);
      if (entry.reason !== undefined) expect(decision.reason, label).toBe(entry.reason);
      expect(decision.target, label).toBe(entry.role === 'read' ? 'replica' : 'primary');
      let rows: Record<string, unknown>[] | undefined;
      try {
        if (entry.tx) await h.inTransaction(entry.sql);
        else rows = await h.run(entry.sql);
      } catch (error) {
        throw new Error(`${label} failed: ${(error as Error).message}`);
      }
      const logged = rec.entries.filter((e) => e.sql === entry.sql).at(-1);
      expect(logged, label).toBeDefined();
      expect(logged!.event, label).toBe('query'); // no retry was needed: it ran where it was sent
      const role = entry.role === 'read' && !entry.tx ? 'replica' : 'primary';
      expect(logged!.role, label).toBe(role);
      if (entry.proves) {
        expect(rows?.[0], label).toBeDefined();
        const row = rows![0]!;
        expect(row.r, label).toBe(entry.role === 'read');
        expect(row.port, label).toBe(ports.get(logged!.node));
      }
      if (entry.sql.includes(`pg_advisory_lock(${base})`)) {
        const held = `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ${base}`;
        expect(await queryUrl(db.url, held), label).toEqual([{ n: 1 }]);
        for (const url of db.replicaUrls)
          expect(await queryUrl(url, held), label).toEqual([{ n: 0 }]);
      }
      if (entry.role === 'read') reads++;
      else writes++;
    }
    expect(reads).toBeGreaterThanOrEqual(40);
    expect(writes).toBeGreaterThanOrEqual(40);
    const stats = h.router.stats();
    expect(stats.retries).toBe(0);
    expect(stats.replicas.reduce((n, r) => n + r.queries, 0)).toBeGreaterThan(0);
  });
});
