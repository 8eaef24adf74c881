// Backfill consistency (DBLog): a 200k-row table is backfilled while a writer inserts, updates,
// deletes and changes keys all over it (rows the backfill has reached and rows it has not).
// A copy built only from the delivered changes, applied in delivery order, equals the table at
// the end, row for row: no snapshot row overtook a newer change, no deleted row came back.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Change } from '../src/index.js';
import { fileDb, freshDispatchers } from './helpers.js';

const ROWS = 200_000;
const KEY_SPACE = 2 * ROWS;
const CHUNK = 5_000;

const db = fileDb('disp_bf_consistency');
const fresh = freshDispatchers(db, 'bfc');

type Row = { id: number; v: number; pad: string };

/** A sink: applies changes in delivery order to a map keyed by id. */
function apply(copy: Map<number, Row>, change: Change): void {
  switch (change.kind) {
    case 'snapshot':
    case 'insert':
      copy.set((change.new as Row).id, change.new as Row);
      return;
    case 'update': {
      const row = change.new as Row;
      const oldId = (change.old as Partial<Row> | null)?.id;
      if (oldId !== undefined && oldId !== row.id) copy.delete(oldId);
      copy.set(row.id, row);
      return;
    }
    case 'delete':
      copy.delete((change.key as { id: number }).id);
      return;
    case 'truncate':
      copy.clear();
  }
}

/**
 * Writes until stopped: inserts, updates, deletes and key changes at random ids, half of them
 * just ahead of the backfill's recorded position (the chunk being read, where a missed change
 * would show).
 */
function startWriter(
  url: string,
  slot: string,
): { stop: () => Promise<number>; reached: (n: number) => Promise<void> } {
  const client = new pg.Client({ connectionString: url });
  let running = true;
  let writes = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  let frontier = 0;
  const random = (): number =>
    Math.random() < 0.5
      ? frontier + 1 + Math.floor(Math.random() * 2 * CHUNK)
      : 1 + Math.floor(Math.random() * KEY_SPACE);
  const loop = (async () => {
    await client.connect();
    while (running) {
      if (writes % 20 === 0) {
        const rows = await client
          .query<{ k: string | null }>(
            'SELECT last_key[1] AS k FROM koyo.backfill_progress WHERE slot = $1',
            [slot],
          )
          .catch(() => ({ rows: [] }));
        frontier = Number(rows.rows[0]?.k ?? 0);
      }
      const op = Math.random();
      try {
        if (op < 0.3)
          await client.query('INSERT INTO big VALUES ($1, 0, $2) ON CONFLICT (id) DO NOTHING', [
            random(),
            'w',
          ]);
        else if (op < 0.6)
          await client.query('UPDATE big SET v = v + 1, pad = $2 WHERE id = $1', [
            random(),
            `u${writes}`,
          ]);
        else if (op < 0.8) await client.query('DELETE FROM big WHERE id = $1', [random()]);
        else await client.query('UPDATE big SET id = $2 WHERE id = $1', [random(), random()]);
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error; // key change onto a taken id
      }
      writes++;
      for (const w of waiting.filter((w) => writes >= w.n)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
      if (writes % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 1)); // steady
    }
    await client.end();
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return writes;
    },
    /** Resolves once `n` writes are done (the backfill waits for it: writes happen throughout). */
    reached: (n) =>
      writes >= n || !running
        ? Promise.resolve()
        : new Promise<void>((resolve) => void waiting.push({ n, resolve })),
  };
}

describe.each([1, 4])('backfill under concurrent writes, concurrency %i', (concurrency) => {
  it('a copy built from the delivered changes equals the table', async () => {
    await db.query('DROP TABLE IF EXISTS big');
    await db.query('CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text)');
    await db.query(
      `INSERT INTO big SELECT g * 2, 0, repeat('p', 20) FROM generate_series(1, ${ROWS}) g`,
    );
    const { dispatcher, slot } = fresh({ tables: ['big'], concurrency });
    const copy = new Map<number, Row>();
    let snapshots = 0;
    let writer: ReturnType<typeof startWriter> | null = null;
    dispatcher.onTable('big', async (change) => {
      if (change.kind === 'snapshot' && ++snapshots % 1000 === 0)
        await writer!.reached(snapshots / 1000); // a write at least every 1,000 snapshot rows
      if (concurrency > 1 && Math.random() < 0.01) await new Promise((r) => setTimeout(r, 1));
      apply(copy, change);
    });
    await dispatcher.start();
    writer = startWriter(db.url, slot);
    const result = await dispatcher.backfill('big', { chunkSize: CHUNK });
    const writes = await writer.stop();
    await dispatcher.drain();
    await dispatcher.stop();

    expect(writes).toBeGreaterThan(100);
    expect(result.tables[0]!.chunks).toBeGreaterThanOrEqual(ROWS / CHUNK - 1);
    expect(snapshots).toBe(result.tables[0]!.rows);
    const table = await db.query<Row>('SELECT id, v, pad FROM big ORDER BY id');
    const sorted = [...copy.values()].sort((a, b) => a.id - b.id);
    expect(sorted.length).toBe(table.length);
    expect(sorted).toEqual(table);
  });
});
