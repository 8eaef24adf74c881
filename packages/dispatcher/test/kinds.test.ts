import { describe, expect, it } from 'vitest';
import type { Change, LogicalMessage, TransactionBatch } from '../src/index.js';
import { fileDb, freshDispatchers } from './helpers.js';

const db = fileDb(
  'disp_kinds',
  'CREATE TABLE t_a (id int PRIMARY KEY, x text)',
  'CREATE TABLE t_b (id int PRIMARY KEY)',
  'CREATE TABLE t_alter (id int PRIMARY KEY, a text)',
  'CREATE TABLE t_toast (id int PRIMARY KEY, big text, n int)',
  'CREATE TABLE t_toast_full (id int PRIMARY KEY, big text, n int)',
  'ALTER TABLE t_toast_full REPLICA IDENTITY FULL',
  'CREATE TABLE t_keys (a int, b int, v text, PRIMARY KEY (a, b))',
  'CREATE SCHEMA IF NOT EXISTS other',
  'CREATE TABLE t_route (id int PRIMARY KEY)',
  'CREATE TABLE other.t_route (id int PRIMARY KEY)',
  'CREATE TABLE t_batch (id int PRIMARY KEY)',
  'CREATE TABLE t_outbox (id int PRIMARY KEY)',
  'CREATE TABLE t_drain (id int PRIMARY KEY)',
);
const fresh = freshDispatchers(db, 'kinds');

/** A dispatcher collecting every change of `tables`; returns it started and drained. */
async function collecting(tables: string[], options: Record<string, unknown> = {}) {
  const { dispatcher: d } = fresh({ tables, ...options });
  const changes: Change[] = [];
  d.onChange((change) => void changes.push(change));
  await d.start();
  await d.drain();
  return { d, changes };
}

describe('change kinds', () => {
  it('delivers truncates to onTable({ truncate }) and onChange, after the changes before them', async () => {
    const { d, changes } = await collecting(['t_a', 't_b'], { concurrency: 4 });
    const truncated: string[] = [];
    d.onTable('t_a', { truncate: (c) => void truncated.push(c.table) });
    await db.query("INSERT INTO t_a VALUES (1, 'x'), (2, 'y')");
    await db.query('INSERT INTO t_b VALUES (1)');
    await db.query('TRUNCATE t_a, t_b');
    await db.query("INSERT INTO t_a VALUES (3, 'z')");
    await d.drain();
    expect(changes.map((c) => `${c.kind}:${c.table}:${String(c.id)}`)).toEqual([
      'insert:t_a:1',
      'insert:t_a:2',
      'insert:t_b:1',
      'truncate:t_a:null',
      'truncate:t_b:null',
      'insert:t_a:3',
    ]);
    const truncate = changes[3]!;
    expect(truncate).toMatchObject({
      kind: 'truncate',
      schema: 'public',
      key: null,
      id: null,
      new: null,
      old: null,
      unchanged: [],
    });
    expect(changes[4]!.commitLsn).toBe(truncate.commitLsn);
    expect(changes[4]!.position).toBe(truncate.position + 1);
    expect(truncated).toEqual(['t_a']);
  });

  it('follows ALTER TABLE ADD/DROP COLUMN between changes, even inside one transaction', async () => {
    const { d, changes } = await collecting(['t_alter']);
    await db.query("INSERT INTO t_alter VALUES (1, 'a1')");
    await db.query('ALTER TABLE t_alter ADD COLUMN b int DEFAULT 7');
    await db.query("INSERT INTO t_alter VALUES (2, 'a2', 8)");
    await db.query(
      "BEGIN; ALTER TABLE t_alter DROP COLUMN a; INSERT INTO t_alter VALUES (3, 9); ALTER TABLE t_alter ADD COLUMN c text; UPDATE t_alter SET c = 'x' WHERE id = 1; COMMIT",
    );
    await d.drain();
    expect(changes.map((c) => c.new)).toEqual([
      { id: 1, a: 'a1' },
      { id: 2, a: 'a2', b: 8 },
      { id: 3, b: 9 },
      { id: 1, b: 7, c: 'x' },
    ]);
    expect(changes.map((c) => c.position)).toEqual([0, 0, 0, 1]);
  });

  it('marks unchanged TOAST values: absent from new with DEFAULT identity, filled from old with FULL', async () => {
    // Random text does not compress, so it is stored out of line (TOASTed).
    const big = await db.query<{ s: string }>(
      "SELECT string_agg(md5(g::text || random()::text), '') AS s FROM generate_series(1, 2000) g",
    );
    const value = big[0]!.s;
    const { d, changes } = await collecting(['t_toast', 't_toast_full']);
    for (const table of ['t_toast', 't_toast_full']) {
      await db.query(`INSERT INTO ${table} VALUES (1, $1, 0)`, [value]);
      await db.query(`UPDATE ${table} SET n = 1 WHERE id = 1`);
    }
    await d.drain();
    const [insertDefault, updateDefault, insertFull, updateFull] = changes;
    expect(insertDefault!.new).toEqual({ id: 1, big: value, n: 0 });
    expect(updateDefault!.unchanged).toEqual(['big']);
    expect(updateDefault!.new).toEqual({ id: 1, n: 1 });
    expect('big' in updateDefault!.new!).toBe(false);
    expect(updateDefault!.old).toBeNull();
    expect(insertFull!.new).toEqual({ id: 1, big: value, n: 0 });
    expect(updateFull!.unchanged).toEqual(['big']);
    expect(updateFull!.new).toEqual({ id: 1, big: value, n: 1 });
    expect(updateFull!.old).toEqual({ id: 1, big: value, n: 0 });
    // FULL identity: the key is still the primary key.
    expect(updateFull!.key).toEqual({ id: 1 });
    expect(updateFull!.id).toBe(1);
    // JSON-serialisable: no symbol or undefined anywhere.
    for (const change of changes) expect(JSON.parse(JSON.stringify(change))).toEqual(change);
  });

  it('gives key, id and old for updates that change the key and for deletes', async () => {
    const { d, changes } = await collecting(['t_keys']);
    await db.query("INSERT INTO t_keys VALUES (1, 1, 'x')");
    await db.query('UPDATE t_keys SET b = 2 WHERE a = 1');
    await db.query('DELETE FROM t_keys');
    await d.drain();
    expect(changes.map((c) => [c.kind, c.key, c.id, c.old])).toEqual([
      ['insert', { a: 1, b: 1 }, null, null],
      ['update', { a: 1, b: 2 }, null, { a: 1, b: 1 }],
      ['delete', { a: 1, b: 2 }, null, { a: 1, b: 2 }],
    ]);
  });
});

describe('onTable, onTransaction and onMessage', () => {
  it('routes per table and per kind; a bare name is the table the search_path finds', async () => {
    const { dispatcher: d } = fresh({ tables: ['public.t_route', 'other.t_route'] });
    const log: string[] = [];
    d.onTable('t_route', (c) => void log.push(`any ${c.schema} ${c.kind}`));
    d.onTable('other.t_route', {
      insert: (c) => void log.push(`other insert ${c.id}`),
      delete: (c) => void log.push(`other delete ${c.id}`),
    });
    await d.start();
    await db.query('INSERT INTO t_route VALUES (1)');
    await db.query('INSERT INTO other.t_route VALUES (2)');
    await db.query('UPDATE other.t_route SET id = 3');
    await db.query('DELETE FROM other.t_route');
    await d.drain();
    // 't_route' is public.t_route (search_path "$user", public), never other.t_route.
    expect(log).toEqual(['any public insert', 'other insert 2', 'other delete 3']);
  });

  it('delivers transactions in bounded chunks', async () => {
    const { dispatcher: d } = fresh({ tables: ['t_batch'], batchSize: 100 });
    const batches: TransactionBatch[] = [];
    d.onTransaction((batch) => void batches.push(batch));
    await d.start();
    await db.query('INSERT INTO t_batch SELECT g FROM generate_series(1, 250) g');
    await db.query('INSERT INTO t_batch VALUES (1000)');
    await d.drain();
    expect(batches.map((b) => [b.chunk, b.first, b.final, b.changes.length])).toEqual([
      [0, true, false, 100],
      [1, false, false, 100],
      [2, false, true, 50],
      [0, true, true, 1],
    ]);
    expect(batches[0]!.commitLsn).toBe(batches[2]!.commitLsn);
    expect(batches[1]!.changes[0]).toMatchObject({
      position: 100,
      id: 101,
      commitLsn: batches[0]!.commitLsn,
      xid: batches[0]!.xid,
    });
  });

  it('delivers pg_logical_emit_message payloads by prefix, transactional ones in their transaction order', async () => {
    const { dispatcher: d } = fresh({ tables: ['t_outbox'] });
    const log: string[] = [];
    const messages: LogicalMessage[] = [];
    d.onChange((c) => void log.push(`change ${c.id} @${c.position}`));
    d.onMessage('orders', (m) => {
      messages.push(m);
      log.push(`message ${m.text} @${m.position}`);
    });
    await d.start();
    await db.query(
      `BEGIN; INSERT INTO t_outbox VALUES (1); SELECT pg_logical_emit_message(true, 'orders', '{"id":1}'); SELECT pg_logical_emit_message(true, 'ignored', 'x'); INSERT INTO t_outbox VALUES (2); COMMIT`,
    );
    await db.query("SELECT pg_logical_emit_message(false, 'orders', 'now')");
    await db.query(
      "BEGIN; SELECT pg_logical_emit_message(true, 'orders', 'rolled back'); ROLLBACK",
    );
    await d.drain();
    expect(log).toEqual(['change 1 @0', 'message {"id":1} @1', 'change 2 @3', 'message now @0']);
    expect(messages[0]).toMatchObject({
      kind: 'message',
      prefix: 'orders',
      transactional: true,
      text: '{"id":1}',
      position: 1,
    });
    expect(messages[0]!.commitLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Buffer.from(messages[0]!.content).toString()).toBe('{"id":1}');
    expect(messages[1]).toMatchObject({
      transactional: false,
      commitLsn: null,
      xid: null,
      text: 'now',
    });
  });

  it('drain() resolves only after changes committed before it were handled', async () => {
    const { dispatcher: d } = fresh({ tables: ['t_drain'] });
    const handled: number[] = [];
    d.onChange(async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      handled.push(c.id as number);
    });
    await d.start();
    await db.query('INSERT INTO t_drain SELECT g FROM generate_series(1, 200) g');
    await d.drain();
    expect(handled).toHaveLength(200);
    const stats = d.stats();
    expect(stats).toMatchObject({
      state: 'running',
      changes: 200,
      inFlight: 0,
      pending: 0,
      handlerErrors: 0,
    });
    await d.stop();
    await expect(d.drain()).rejects.toMatchObject({ code: 'NOT_RUNNING' });
  });
});
