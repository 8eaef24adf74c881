// Knex streams (`.stream()`, with pg-query-stream) through the routed instance: routed like reads,
// given back their connections, never run twice once rows may have reached the consumer, and every
// failure reaches the stream (Knex's consumer waits for 'error' or 'end').
import { databasePerFile } from '@koyo/testing/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { readFromReplica, routedKnex, routerOf, type RoutedKnex } from '../src/index.js';
import { P, recorder, routedOn, waitForReplay } from './_helpers.js';

const db = databasePerFile('knex_stream', [
  'CREATE TABLE s (i int)',
  'INSERT INTO s SELECT generate_series(1, 100)',
]);
const instances: RoutedKnex[] = [];
afterAll(async () => {
  await Promise.all(instances.map((k) => k.destroy().catch(() => undefined)));
});

/** A replica no one can connect to (nothing listens on port 1). */
const UNREACHABLE = {
  client: 'pg',
  connection: 'postgres://nobody@127.0.0.1:1/none',
  pool: { min: 0, max: 2 },
  acquireConnectionTimeout: 2_000,
} as const;

/** The rows of a stream, or its error. */
async function drain(stream: unknown): Promise<{ rows: Record<string, unknown>[]; error?: Error }> {
  const rows: Record<string, unknown>[] = [];
  try {
    for await (const row of stream as AsyncIterable<Record<string, unknown>>) rows.push(row);
    return { rows };
  } catch (error) {
    return { rows, error: error as Error };
  }
}

describe('streams through a routed Knex', () => {
  it('streams a read on a replica and, in a transaction, on its connection; connections are given back', async () => {
    await waitForReplay(db.url, db.replicaUrls);
    const k = routedOn(db);
    instances.push(k);
    const { rows } = await drain(k.raw(`SELECT ${P}, i FROM s`).stream());
    expect(rows).toHaveLength(100);
    expect(rows[0]!.r).toBe(true);
    await k.transaction(async (trx) => {
      await trx('s').insert({ i: 1000 });
      const inTx = await drain(k.raw(`SELECT ${P}, i FROM s WHERE i = 1000`).stream());
      expect(inTx.rows).toEqual([expect.objectContaining({ r: false, i: 1000 })]);
    });
    // More streams than the replica pools hold (max 2 each): each gave its connection back.
    await waitForReplay(db.url, db.replicaUrls); // the committed row, on the replicas too
    for (let n = 0; n < 5; n++) expect((await drain(k('s').stream())).rows).toHaveLength(101);
    await k('s').where({ i: 1000 }).del();
  });

  it('a statement that fails on the server ends the stream with its error', async () => {
    const k = routedOn(db);
    instances.push(k);
    const { error } = await drain(k.raw('SELECT 1/0').stream());
    expect(error?.message).toMatch(/division by zero/);
  });

  it('a replica whose connection cannot be checked out: the stream runs on the next node, and only that replica is ejected', async () => {
    const rec = recorder();
    const k = routedKnex({
      primary: { client: 'pg', connection: db.url, pool: { min: 0, max: 2 } },
      replicas: [
        UNREACHABLE,
        { client: 'pg', connection: db.replicaUrls[0]!, pool: { min: 0, max: 2 } },
      ],
      strategy: 'round-robin',
      logger: rec.logger,
    });
    instances.push(k);
    for (let n = 0; n < 2; n++) {
      const { rows, error } = await drain(readFromReplica(() => k.raw(`SELECT ${P}`).stream()));
      expect(error).toBeUndefined();
      expect(rows).toHaveLength(1);
    }
    const health = routerOf(k)!.replicaStatus();
    expect(health.map((r) => r.healthy)).toEqual([false, true]);
    expect(rec.entries.filter((e) => e.event === 'eject').map((e) => e.node)).toEqual([
      health[0]!.name,
    ]);
  });

  it('when no node can take it (fallback: error), the stream ends with NO_REPLICA_AVAILABLE instead of hanging', async () => {
    const k = routedKnex({
      primary: { client: 'pg', connection: db.url, pool: { min: 0, max: 2 } },
      replicas: [UNREACHABLE],
      fallback: 'error',
    });
    instances.push(k);
    const { error } = await drain(readFromReplica(() => k.raw('SELECT 1').stream()));
    expect(error).toMatchObject({ code: 'NO_REPLICA_AVAILABLE' });
  });
});
