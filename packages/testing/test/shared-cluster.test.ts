import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testCluster, type TestDatabase } from '../src/vitest.js';

describe('the shared test cluster', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('shared');
  });
  afterAll(async () => {
    await db.drop();
  });

  async function query(url: string, sql: string): Promise<pg.QueryResult> {
    const client = new pg.Client(url);
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  }

  it('runs the PostgreSQL flavour the project asked for', () => {
    const cluster = testCluster();
    expect(cluster.flavour).toBe(
      process.env.KOYO_TEST_POSTGRES === 'embedded' ? 'embedded' : 'system',
    );
    if (cluster.flavour === 'embedded') expect(cluster.major).toBe(18);
  });

  it('has a logical primary and hot standbys, and a fresh database on all of them', async () => {
    const primary = await query(
      db.url,
      "SELECT pg_is_in_recovery() AS r, current_setting('wal_level') AS w, current_database() AS d",
    );
    expect(primary.rows[0]).toEqual({ r: false, w: 'logical', d: db.name });
    expect(db.replicaUrls).toHaveLength(2);
    for (const url of db.replicaUrls) {
      const replica = await query(url, 'SELECT pg_is_in_recovery() AS r, current_database() AS d');
      expect(replica.rows[0]).toEqual({ r: true, d: db.name });
    }
  });

  it('leaves room for slots, WAL senders and prepared transactions', async () => {
    const { rows } = await query(
      db.url,
      "SELECT current_setting('max_replication_slots')::int AS slots, current_setting('max_wal_senders')::int AS senders, current_setting('max_prepared_transactions')::int AS prepared",
    );
    expect(rows[0].slots).toBeGreaterThanOrEqual(10);
    expect(rows[0].senders).toBeGreaterThanOrEqual(10);
    expect(rows[0].prepared).toBeGreaterThanOrEqual(10);
  });
});
