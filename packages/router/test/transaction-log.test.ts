// The query log shows a transaction from BEGIN to its end, statements on the transaction's own
// handle included (postgres.js's `tx`), with pg and with postgres.js.
import { startCluster, type Cluster } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoutedPool } from '../src/pg.js';
import { createRoutedSql } from '../src/postgres.js';
import { recorder } from './_helpers.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ replicas: 0 });
  await cluster.primary.query('CREATE TABLE tx_log (id int PRIMARY KEY)');
});
afterAll(async () => {
  await cluster?.stop();
});

const statements = (lines: string[]): string[] =>
  lines.map((line) => line.replace(/^Primary: \S+ \([^)]*\) /, ''));

describe('transactions in the query log', () => {
  it('postgres.js: BEGIN, the tx statements, COMMIT; a failed one ends with ROLLBACK', async () => {
    const log = recorder();
    const sql = createRoutedSql({ primary: cluster.primary.url, replicas: [], logger: log.logger });
    try {
      await sql.begin(async (tx) => {
        await tx`INSERT INTO tx_log VALUES (${1})`;
        await tx`SELECT id FROM tx_log WHERE id = ${1}`;
      });
      expect(statements(log.lines)).toEqual([
        'BEGIN',
        'INSERT INTO tx_log VALUES ($1)',
        'SELECT id FROM tx_log WHERE id = $1',
        'COMMIT',
      ]);
      log.lines.length = 0;
      await sql
        .begin(async (tx) => {
          await tx`INSERT INTO tx_log VALUES (${1})`; // duplicate key
        })
        .catch(() => undefined);
      expect(statements(log.lines)).toEqual([
        'BEGIN',
        'INSERT INTO tx_log VALUES ($1)',
        'ROLLBACK',
      ]);
    } finally {
      await sql.end();
    }
  });

  it('pg: pool.transaction() logs BEGIN and COMMIT', async () => {
    const log = recorder();
    const pool = createRoutedPool({
      primary: cluster.primary.url,
      replicas: [],
      logger: log.logger,
    });
    try {
      await pool.transaction(async (client) => {
        await client.query('INSERT INTO tx_log VALUES (2)');
      });
      expect(statements(log.lines)).toEqual(['BEGIN', 'INSERT INTO tx_log VALUES (2)', 'COMMIT']);
    } finally {
      await pool.end();
    }
  });
});
