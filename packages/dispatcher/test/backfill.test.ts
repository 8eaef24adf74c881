// Backfill: existing rows reach the handlers as 'snapshot' changes (routing, keys, errors,
// resume after stop(), `backfill: 'initial'`), against a real PostgreSQL.
import { describe, expect, it } from 'vitest';
import type { Change } from '../src/index.js';
import { fileDb, freshDispatchers, waitFor } from './helpers.js';

const db = fileDb(
  'disp_backfill',
  'CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL)',
  "INSERT INTO users SELECT g, 'u' || g || '@x' FROM generate_series(1, 2500) g",
  'CREATE TABLE pairs (a text NOT NULL, b int NOT NULL, v text, PRIMARY KEY (a, b))',
  "INSERT INTO pairs SELECT chr(97 + g % 5), g, 'v' || g FROM generate_series(1, 733) g",
  'CREATE TABLE docs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text)',
  "INSERT INTO docs (body) SELECT 'd' || g FROM generate_series(1, 411) g",
  'CREATE TABLE empty_t (id int PRIMARY KEY)',
  'CREATE TABLE cursed (id int PRIMARY KEY, v int)',
  'CREATE TABLE ticks (id serial PRIMARY KEY)',
  'INSERT INTO cursed SELECT g, g FROM generate_series(1, 30) g',
  'UPDATE cursed SET v = 666 WHERE id = 25',
  // Sparse keys, and a key text longer than the decoder's scratch buffer that COPY escapes
  // (tabs, backslashes): 49 rows, 7 chunks of 7 exactly (the read after the last one is empty).
  'CREATE TABLE gappy (k text NOT NULL, n int NOT NULL, v text, PRIMARY KEY (k, n))',
  `INSERT INTO gappy SELECT repeat(chr(92) || chr(9), 200) || (g % 3), g * 1000, 'v' || g
       FROM generate_series(1, 49) g`,
  // Chunks sized by bytes without chunkSize: 30,000 narrow rows, 3,000 rows of about 4 KB.
  'CREATE TABLE narrow (id int PRIMARY KEY)',
  'INSERT INTO narrow SELECT generate_series(1, 30000)',
  'CREATE TABLE wide_rows (id int PRIMARY KEY, body text NOT NULL)',
  'INSERT INTO wide_rows SELECT g, repeat(md5(g::text), 125) FROM generate_series(1, 3000) g',
  // Identity FULL (setup accepts it) but no primary key and no unique index to cut chunks by.
  'CREATE TABLE keyless (v text)',
  'ALTER TABLE keyless REPLICA IDENTITY FULL',
  "INSERT INTO keyless VALUES ('x')",
);
const fresh = freshDispatchers(db, 'bf');

describe('backfill()', () => {
  it('routes snapshot rows to onChange, function-form onTable and the snapshot member only', async () => {
    const { dispatcher } = fresh({ tables: ['users'] });
    const all: Change[] = [];
    const fn: Change[] = [];
    const bySnapshot: Change[] = [];
    let inserts = 0;
    dispatcher.onChange((c) => void all.push(c));
    dispatcher.onTable('users', (c) => void fn.push(c));
    dispatcher.onTable('users', { insert: () => void inserts++ });
    dispatcher.onTable('users', { snapshot: (c) => void bySnapshot.push(c) });
    await dispatcher.start();
    const result = await dispatcher.backfill('users', { chunkSize: 1000 });
    await dispatcher.stop();
    expect(result.tables).toEqual([
      { table: 'public.users', rows: 2500, chunks: 3, ms: expect.any(Number) },
    ]);
    expect(all).toHaveLength(2500);
    expect(fn).toHaveLength(2500);
    expect(bySnapshot).toHaveLength(2500);
    expect(inserts).toBe(0);
    const first = bySnapshot[0]!;
    expect(first).toMatchObject({
      kind: 'snapshot',
      schema: 'public',
      table: 'users',
      key: { id: 1 },
      id: 1,
      new: { id: 1, email: 'u1@x' },
      old: null,
    });
    // Idempotency keys never collide: distinct pairs, none equal to another change's.
    const keys = new Set(all.map((c) => `${c.commitLsn}/${c.position}`));
    expect(keys.size).toBe(2500);
    const rows = await db.query<{ rows: string; done: boolean }>(
      'SELECT rows::text, done FROM koyo.backfill_progress WHERE table_name = $1 ORDER BY updated_at DESC LIMIT 1',
      ['users'],
    );
    expect(rows[0]).toEqual({ rows: '2500', done: true });
  });

  it("times each snapshot row's handlers on its own (stats' handler percentiles)", async () => {
    const { dispatcher } = fresh({ tables: ['users'] });
    // Every 25th row's handler takes 6 ms (4% of the rows), the others nothing.
    dispatcher.onTable('users', {
      snapshot: (c) => {
        if ((c.id as number) % 25 !== 0) return;
        const until = performance.now() + 6;
        while (performance.now() < until);
      },
    });
    await dispatcher.start();
    await dispatcher.backfill('users');
    const stats = dispatcher.stats();
    await dispatcher.stop();
    // Averaged over a slice of rows, the slow ones would vanish from the 99th percentile.
    expect(stats.handlerP99Ms).toBeGreaterThanOrEqual(6);
    expect(stats.handlerP50Ms).toBeLessThan(6);
  });

  it('backfills composite, uuid-keyed and empty tables', async () => {
    const { dispatcher } = fresh({
      tables: ['pairs', 'docs', 'empty_t'],
    });
    const seen = new Map<string, Change[]>();
    dispatcher.onChange((c) => {
      const list = seen.get(c.table) ?? [];
      list.push(c);
      seen.set(c.table, list);
    });
    await dispatcher.start();
    const result = await dispatcher.backfill(undefined, { chunkSize: 100 });
    await dispatcher.stop();
    expect(result.tables.map((t) => [t.table, t.rows])).toEqual([
      ['public.pairs', 733],
      ['public.docs', 411],
      ['public.empty_t', 0],
    ]);
    const pairs = seen.get('pairs')!;
    expect(new Set(pairs.map((c) => `${String(c.key!.a)}:${String(c.key!.b)}`)).size).toBe(733);
    expect(pairs[0]!.id).toBeNull(); // composite key: no single id
    const docs = seen.get('docs')!;
    const ids = (await db.query<{ id: string }>('SELECT id FROM docs ORDER BY id')).map(
      (r) => r.id,
    );
    expect(docs.map((c) => c.id)).toEqual(ids);
    expect(seen.get('empty_t')).toBeUndefined();
  });

  it('chunks sparse composite keys with long escaped text, ending on a full chunk', async () => {
    const { dispatcher } = fresh({ tables: ['gappy'] });
    const rows: Record<string, unknown>[] = [];
    dispatcher.onTable('gappy', { snapshot: (c) => void rows.push(c.new) });
    await dispatcher.start();
    const result = await dispatcher.backfill('gappy', { chunkSize: 7 });
    await dispatcher.stop();
    expect(result.tables).toEqual([
      { table: 'public.gappy', rows: 49, chunks: 7, ms: expect.any(Number) },
    ]);
    expect(rows).toEqual(await db.query('SELECT k, n, v FROM gappy ORDER BY k, n'));
  });

  it('sizes chunks by bytes without chunkSize: fewer for narrow rows, more for wide ones', async () => {
    const { dispatcher, slot } = fresh({ tables: ['narrow', 'wide_rows'] });
    const counts = new Map<string, number>();
    dispatcher.onChange((c) => void counts.set(c.table, (counts.get(c.table) ?? 0) + 1));
    await dispatcher.start();
    const result = await dispatcher.backfill(['narrow', 'wide_rows']);
    // narrow: 1,000 rows first, then up to 100,000 (2 MiB of ~6-byte rows): 2 chunks.
    // wide_rows: 1,000 rows first (about 4 MB), then 523 at a time (2 MiB): 5 chunks.
    expect(result.tables).toEqual([
      { table: 'public.narrow', rows: 30000, chunks: 2, ms: expect.any(Number) },
      { table: 'public.wide_rows', rows: 3000, chunks: 5, ms: expect.any(Number) },
    ]);
    expect(Object.fromEntries(counts)).toEqual({ narrow: 30000, wide_rows: 3000 });
    const recorded = await db.query<{ chunk_size: number }>(
      'SELECT DISTINCT chunk_size FROM koyo.backfill_progress WHERE slot = $1',
      [slot],
    );
    expect(recorded).toEqual([{ chunk_size: 0 }]);
  });

  it('stops at an abort after the chunk being delivered, drops the chunk read ahead, and resumes after it', async () => {
    const { dispatcher, slot } = fresh({ tables: ['users'] });
    const seen: number[] = [];
    const abort = new AbortController();
    dispatcher.onTable('users', {
      snapshot: (c) => {
        seen.push(c.id as number);
        if (seen.length === 1200) abort.abort(); // chunk 3 delivered, chunk 4 read ahead
      },
    });
    await dispatcher.start();
    const error = await dispatcher
      .backfill('users', { chunkSize: 500, signal: abort.signal })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STOPPED' });
    expect(seen).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    const saved = await db.query<{ last_key: string[]; rows: string; done: boolean }>(
      "SELECT last_key, rows::text, done FROM koyo.backfill_progress WHERE table_name = 'users' AND slot = $1",
      [slot],
    );
    expect(saved).toEqual([{ last_key: ['1500'], rows: '1500', done: false }]);
    // The chunk read ahead left no window open: streamed changes and the resumed backfill flow.
    await db.query('UPDATE users SET email = email WHERE id = 2500');
    const result = await dispatcher.backfill('users', { chunkSize: 500 });
    await dispatcher.stop();
    expect(result.tables[0]).toMatchObject({ rows: 2500, chunks: 2 });
    expect(seen.slice(1500)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1501));
  });

  it('fails the backfill, not the stream, on a row its type parser rejects', async () => {
    const int4 = (text: string): number => {
      if (text === '666') throw new Error('cursed value');
      return Number(text);
    };
    const { dispatcher, slot } = fresh({ tables: ['cursed'], typeParsers: { 23: int4 } });
    const snapshots: number[] = [];
    const inserts: number[] = [];
    dispatcher.onTable('cursed', {
      snapshot: (c) => void snapshots.push(c.id as number),
      insert: (c) => void inserts.push(c.id as number),
    });
    await dispatcher.start();
    const error = await dispatcher.backfill('cursed', { chunkSize: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BACKFILL_FAILED' });
    expect((error as Error).message).toContain('cursed value');
    // Chunks 1 and 2 were delivered and recorded; chunk 3 stopped at its bad row, unrecorded.
    expect(snapshots).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const saved = await db.query<{ last_key: string[]; done: boolean }>(
      'SELECT last_key, done FROM koyo.backfill_progress WHERE slot = $1',
      [slot],
    );
    expect(saved).toEqual([{ last_key: ['20'], done: false }]);
    await db.query('INSERT INTO cursed VALUES (100, 1)');
    await waitFor(() => inserts.includes(100), 'the stream after the failed backfill');
    await dispatcher.stop();
    await db.query('DELETE FROM cursed WHERE id = 100');
  });

  it('rejects a table without a usable key with NO_USABLE_KEY, delivering nothing', async () => {
    const { dispatcher } = fresh({ tables: ['keyless'] });
    let delivered = 0;
    dispatcher.onChange(() => void delivered++);
    await dispatcher.start();
    const error = await dispatcher.backfill('keyless').catch((e: unknown) => e);
    await dispatcher.stop();
    expect(error).toMatchObject({ code: 'NO_USABLE_KEY' });
    expect((error as Error).message).toContain('ADD PRIMARY KEY');
    expect(delivered).toBe(0);
  });

  it('delivers a chunk only once the chunk before it is recorded, though its high watermark came first', async () => {
    const { dispatcher, slot } = fresh({ tables: ['users', 'empty_t'] });
    const chunkSize = 500;
    const progress = async (): Promise<number> => {
      const rows = await db.query<{ rows: string }>(
        "SELECT rows::text FROM koyo.backfill_progress WHERE slot = $1 AND table_name = 'users'",
        [slot],
      );
      return Number(rows[0]?.rows ?? 0);
    };
    // Each chunk's record takes 100 ms to commit: every next chunk is read (and its high
    // watermark written) long before, so only the dispatcher's wait keeps it from the handlers.
    const seen: { delivered: number; recorded: number }[] = [];
    let delivered = 0;
    let lsn = '';
    dispatcher.onTable('users', {
      snapshot: async (change) => {
        if (change.commitLsn !== lsn) {
          lsn = change.commitLsn;
          seen.push({ delivered, recorded: await progress() });
        }
        delivered++;
      },
    });
    await dispatcher.start();
    await dispatcher.backfill('empty_t'); // creates the progress table
    await db.query(`CREATE OR REPLACE FUNCTION slow_progress() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN PERFORM pg_sleep(0.1); RETURN NEW; END $$`);
    await db.query(`CREATE TRIGGER slow_progress_${slot} BEFORE UPDATE ON koyo.backfill_progress
      FOR EACH ROW WHEN (NEW.slot = '${slot}' AND NEW.rows > 0) EXECUTE FUNCTION slow_progress()`);
    try {
      await dispatcher.backfill('users', { chunkSize });
    } finally {
      await db.query(`DROP TRIGGER slow_progress_${slot} ON koyo.backfill_progress`);
    }
    expect(seen).toStrictEqual(
      [0, 1, 2, 3, 4].map((k) => ({ delivered: k * chunkSize, recorded: k * chunkSize })),
    );
  });

  it('does not hold the stream for a chunk whose predecessor waits for later changes to be acknowledged', async () => {
    // Each transaction batch is done only when the next one arrives: chunk N is acknowledged
    // only after a change streamed behind chunk N+1's high watermark, so the stream must not
    // wait there for N's record indefinitely (it reads N+1 again instead).
    const { dispatcher } = fresh({ tables: ['users', 'ticks'] });
    const waiting: { done: (() => void) | null } = { done: null };
    const ids = new Set<unknown>();
    dispatcher.onTransaction((batch) => {
      for (const change of batch.changes) if (change.kind === 'snapshot') ids.add(change.id);
      const done = batch.defer();
      waiting.done?.();
      waiting.done = () => done();
    });
    await dispatcher.start();
    let ticking = true;
    const ticker = (async () => {
      while (ticking) {
        await db.query('INSERT INTO ticks DEFAULT VALUES');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      const result = await dispatcher.backfill('users', { chunkSize: 500 });
      expect(result.tables[0]).toMatchObject({ table: 'public.users', rows: 2500 });
    } finally {
      ticking = false;
      await ticker;
      waiting.done?.(); // the last batch, so stop() does not wait for it
    }
    expect(ids.size).toBe(2500);
  });

  it('stops delivering a chunk when the dispatcher stops in its middle', async () => {
    const { dispatcher, slot } = fresh({ tables: ['users'] });
    let seen = 0;
    const stopping: { done?: Promise<void> } = {};
    dispatcher.onTable('users', {
      snapshot: async () => {
        seen++;
        if (seen === 100) stopping.done = dispatcher.stop();
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    await dispatcher.start();
    const error = await dispatcher.backfill('users', { chunkSize: 2500 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STOPPED' });
    await stopping.done;
    const atStop = seen;
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    // The handler running when stop() was called finishes; no row of the chunk follows it.
    expect(atStop).toBe(100);
    expect(seen).toBe(100);
    const saved = await db.query<{ last_key: string[] | null; done: boolean }>(
      'SELECT last_key, done FROM koyo.backfill_progress WHERE slot = $1',
      [slot],
    );
    // The chunk is not recorded: the next start reads it again, from the first key.
    expect(saved).toEqual([{ last_key: null, done: false }]);
  });

  it('resumes after stop() from the last acknowledged chunk', async () => {
    const { dispatcher: first, slot, publication } = fresh({ tables: ['users'] });
    const seenFirst: number[] = [];
    first.onTable('users', {
      snapshot: async (c) => {
        seenFirst.push(c.id as number);
        if (seenFirst.length === 1200) void first.stop(); // in the middle of the second chunk
        await Promise.resolve();
      },
    });
    await first.start();
    const error = await first.backfill('users', { chunkSize: 500 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STOPPED' });
    const saved = await db.query<{ last_key: string[]; done: boolean }>(
      'SELECT last_key, done FROM koyo.backfill_progress WHERE slot = $1',
      [slot],
    );
    expect(saved).toEqual([{ last_key: ['1000'], done: false }]);

    // The next start resumes by itself (no backfill() call), after key 1000.
    const { dispatcher: second } = fresh({ slot, publication, tables: ['users'] });
    const seenSecond: number[] = [];
    second.onTable('users', { snapshot: (c) => void seenSecond.push(c.id as number) });
    await second.start();
    await waitFor(() => second.stats().backfill[0]?.state === 'done', 'the resumed backfill');
    await second.stop();
    expect(seenSecond[0]).toBe(1001);
    expect(seenSecond).toHaveLength(1500);
    expect(second.stats().backfill[0]).toMatchObject({ table: 'public.users', rows: 2500 });
  });

  it("backfill: 'initial' delivers every existing row once, then the stream; not again on restart", async () => {
    const options = { tables: ['pairs'], backfill: 'initial' as const };
    const { dispatcher: first, slot, publication } = fresh(options);
    const kinds: string[] = [];
    first.onChange((c) => void kinds.push(c.kind));
    await first.start();
    await waitFor(() => first.stats().backfill[0]?.state === 'done', 'the initial backfill');
    await db.query("INSERT INTO pairs VALUES ('z', 100000, 'new')");
    await first.drain();
    await first.stop();
    expect(kinds.filter((k) => k === 'snapshot')).toHaveLength(733);
    expect(kinds.at(-1)).toBe('insert');

    const { dispatcher: second } = fresh({ ...options, slot, publication });
    const later: string[] = [];
    second.onChange((c) => void later.push(c.kind));
    await second.start();
    await db.query("DELETE FROM pairs WHERE a = 'z'");
    await second.drain();
    await second.stop();
    expect(later).toEqual(['delete']);
    expect(second.stats().backfill).toEqual([]);
  });
});
