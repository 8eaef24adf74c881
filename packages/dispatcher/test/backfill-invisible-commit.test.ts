// A transaction whose commit record precedes a chunk's low watermark, but that is still in the
// proc array when the chunk's snapshot is taken (here held in a synchronous-replication wait; on
// a loaded machine, a backend descheduled between its commit record and the end of its commit).
// The stream delivers it before the window opens and the snapshot does not see it, and
// pg_xact_status() reports it 'in progress': the chunk must not overwrite it with the older row.
import { startCluster, type Cluster } from '@koyo/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/index.js';

let cluster: Cluster;
let admin: pg.Client;

beforeAll(async () => {
  cluster = await startCluster({ replicas: 0 });
  admin = new pg.Client(cluster.primary.url);
  await admin.connect();
  await admin.query('CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL)');
  await admin.query('INSERT INTO big SELECT g, 0 FROM generate_series(1, 10) g');
  await admin.query('CREATE PUBLICATION p FOR TABLE big');
  await admin.query("SELECT pg_create_logical_replication_slot('s', 'pgoutput')");
  // Every session commits locally, except the one that waits for a synchronous standby that
  // never comes.
  await admin.query('ALTER ROLE CURRENT_USER SET synchronous_commit = local');
  await admin.query("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
  await admin.query('SELECT pg_reload_conf()');
  await admin.query('SET synchronous_commit = local');
}, 120_000);

afterAll(async () => {
  await admin?.end().catch(() => undefined);
  await cluster?.stop();
});

describe('backfill: a commit not yet visible to the chunk snapshot', () => {
  it('is not overwritten by the older row of the chunk', async () => {
    const copy = new Map<number, number>();
    const kinds: string[] = [];
    const dispatcher = createDispatcher({
      connection: cluster.primary.url,
      slot: 's',
      publication: 'p',
      createSlot: false,
      createPublication: false,
      logger: false,
    });
    dispatcher.onTable('big', (change) => {
      kinds.push(change.kind);
      const row = change.new as { id: number; v: number };
      copy.set(row.id, row.v);
    });
    await dispatcher.start();
    const held = new pg.Client(cluster.primary.url);
    held.on('error', () => undefined);
    await held.connect();
    try {
      await held.query('SET synchronous_commit = on');
      // Its commit record is written (and streamed); it stays in the proc array, waiting.
      const update = held.query('UPDATE big SET v = 1 WHERE id = 5').catch(() => undefined);
      const deadline = Date.now() + 30_000;
      while (!kinds.includes('update')) {
        if (Date.now() > deadline) throw new Error('the update was not streamed');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const status = await admin.query<{ s: string }>(
        "SELECT pg_xact_status(backend_xid::text::xid8) AS s FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
      );
      expect(status.rows[0]?.s).toBe('in progress');
      const backfill = dispatcher.backfill('big', { chunkSize: 100 });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The wait ends (the commit was local already): the transaction becomes visible.
      await admin.query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
      );
      await update;
      const result = await backfill;
      expect(result.tables[0]?.rows).toBe(10);
      expect(copy.get(5)).toBe(1);
      expect([...copy].sort((a, b) => a[0] - b[0])).toEqual(
        Array.from({ length: 10 }, (_, i) => [i + 1, i === 4 ? 1 : 0]),
      );
    } finally {
      await held.end().catch(() => undefined);
      await dispatcher.stop();
    }
  }, 120_000);
});
