// Backfill resumability from the outside: a dispatcher process is SIGKILLed 3 times in the
// middle of a backfill while a writer changes the table; each restart resumes after the last
// acknowledged chunk. A copy built from every delivered change (in delivery order, across the
// processes) equals the table, and each kill cost at most one chunk of redelivered rows.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSlot, openDb, uniqueName, waitFor, type Db } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = 100_000;
const CHUNK = 2_000;
const KILLS = 3;

let db: Db;
let dir: string;
const slot = uniqueName('bfkill');
/** Every dispatcher process started: one still running when the test fails is killed. */
const children: ChildProcess[] = [];
const publication = uniqueName('bfkill_pub');

beforeAll(async () => {
  db = await openDb('disp_bf_kill');
  dir = mkdtempSync(join(tmpdir(), 'koyo-bf-kill-'));
  await db.query('CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL)');
  await db.query(`INSERT INTO big SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE big`);
  await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(children.map(exited));
  await dropSlot(db, slot).catch(() => undefined);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

function startChild(outFile: string, run: number): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@koyo/source',
      '--import',
      'tsx',
      join(here, 'fixtures/backfill-child.ts'),
      db.url,
      slot,
      publication,
      outFile,
      String(CHUNK),
      String(run),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSX_DISABLE_CACHE: '1' } },
  );
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

interface Line {
  r: number;
  k: string;
  n: { id: number; v: number } | null;
  o: number | null;
}

/** Snapshot rows delivered so far (a cheap count, polled often). */
function snapshotCount(file: string): number {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 0;
  }
  return text.split('"k":"snapshot"').length - 1;
}

function lines(file: string): Line[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  // A kill may cut the last line short: only complete lines count.
  return text
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l) as Line);
}

async function progress(): Promise<{ done: boolean; rows: number } | null> {
  const rows = await db
    .query<{ done: boolean; rows: string }>(
      'SELECT done, rows::text FROM koyo.backfill_progress WHERE slot = $1',
      [slot],
    )
    .catch(() => []);
  return rows[0] ? { done: rows[0].done, rows: Number(rows[0].rows) } : null;
}

describe('backfill kill and resume', () => {
  it('converges after 3 SIGKILLs in the middle of a backfill, redelivering at most a chunk each', async () => {
    const outFile = join(dir, 'delivered.log');
    const writer = new pg.Client(db.url);
    await writer.connect();
    let writing = true;
    let writes = 0;
    const write = (async () => {
      while (writing) {
        const id = 1 + Math.floor(Math.random() * ROWS * 1.5);
        const op = Math.random();
        if (op < 0.4) await writer.query('UPDATE big SET v = v + 1 WHERE id = $1', [id]);
        else if (op < 0.6) await writer.query('DELETE FROM big WHERE id = $1', [id]);
        else await writer.query('INSERT INTO big VALUES ($1, 0) ON CONFLICT DO NOTHING', [id]);
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    let delivered = 0;
    for (let run = 0; run < KILLS; run++) {
      const child = startChild(outFile, run);
      // Killed once it has delivered some snapshot rows of its own (in the middle of a chunk
      // or between chunks, wherever that lands).
      const target = delivered + 7_000 + Math.floor(Math.random() * 3_000);
      await waitFor(
        () => (delivered = snapshotCount(outFile)) >= target,
        `run ${run} to deliver snapshot rows`,
        120_000,
        5,
      );
      child.kill('SIGKILL');
      await exited(child);
      delivered = snapshotCount(outFile);
      const saved = await progress();
      expect(saved?.done).toBe(false); // killed in the middle, not after the end
    }
    const final = startChild(outFile, KILLS);
    await waitFor(
      async () => (await progress())?.done === true,
      'the resumed backfill',
      120_000,
      50,
    );
    writing = false;
    await write;
    await writer.end();
    // Everything written is in the stream: wait until the last run has delivered it.
    await db.query('UPDATE big SET v = v WHERE id = (SELECT min(id) FROM big)');
    const table = await db.query<{ id: number; v: number }>('SELECT id, v FROM big ORDER BY id');
    const converged = (): boolean => {
      const copy = new Map<number, { id: number; v: number }>();
      for (const line of lines(outFile)) {
        if (line.k === 'delete') copy.delete(line.o!);
        else copy.set(line.n!.id, line.n!);
      }
      const sorted = [...copy.values()].sort((a, b) => a.id - b.id);
      return JSON.stringify(sorted) === JSON.stringify(table);
    };
    await waitFor(converged, 'the copy to equal the table', 60_000, 100);
    final.kill('SIGTERM');
    await exited(final);

    expect(writes).toBeGreaterThan(50);
    const all = lines(outFile);
    expect(new Set(all.map((l) => l.r))).toEqual(new Set([0, 1, 2, 3]));
    const snapshots = all.filter((l) => l.k === 'snapshot').length;
    const saved = await progress();
    // Each kill redelivers at most the chunk in flight.
    expect(snapshots - saved!.rows).toBeLessThanOrEqual(KILLS * CHUNK);
    expect(converged()).toBe(true);
  });
});
