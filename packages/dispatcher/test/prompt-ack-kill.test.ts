// The test for prompt acknowledgements: a dispatcher in a child process, with the default
// stream settings, handles 1,000 rows and is SIGKILLed 2 s later; the next one redelivers none of
// them. With acknowledgements sent only every statusIntervalMs (10 s), all 1,000 came again.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { confirmedFlush, lsn, waitFor } from './helpers.js';
import { slotFixture } from '@koyo/testing/vitest';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = 1_000;

const fx = slotFixture('promptkill', {
  statements: ['CREATE TABLE items (id int PRIMARY KEY)'],
  publish: 'items',
});
const { slot, publication } = fx;

function startChild(outFile: string, run: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@koyo/source',
      '--import',
      'tsx',
      join(here, 'fixtures/ack-child.ts'),
      fx.db.url,
      slot,
      publication,
      outFile,
      String(run),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSX_DISABLE_CACHE: '1' } },
  );
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('started')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

function handled(outFile: string, run: number): number[] {
  if (!existsSync(outFile)) return [];
  return readFileSync(outFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith(`${run} `))
    .map((line) => Number(line.split(' ')[1]));
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

describe('prompt acknowledgements', () => {
  it('a dispatcher SIGKILLed 2 s after handling 1,000 rows: the next one redelivers none of them', async () => {
    const outFile = join(fx.dir, 'handled.log');
    const first = await startChild(outFile, 1);
    // 1,000 rows in 50 transactions.
    for (let i = 0; i < ROWS; i += 20)
      await fx.db.query('INSERT INTO items SELECT g FROM generate_series($1::int, $2::int) g', [
        i + 1,
        i + 20,
      ]);
    const [{ at }] = (await fx.db.query<{ at: string }>(
      'SELECT pg_current_wal_lsn()::text AS at',
    )) as [{ at: string }];
    await waitFor(() => handled(outFile, 1).length >= ROWS, 'the first child to handle 1,000 rows');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    first.kill('SIGKILL');
    await exited(first);
    // Server truth: the slot confirmed every handled transaction before the kill.
    expect(await confirmedFlush(fx.db, slot)).toBeGreaterThanOrEqual(lsn(at));

    const second = await startChild(outFile, 2);
    await fx.db.query(`INSERT INTO items VALUES (${ROWS + 1})`);
    await waitFor(
      () => handled(outFile, 2).includes(ROWS + 1),
      'the second child to handle a new row',
    );
    second.kill('SIGTERM');
    await exited(second);
    expect(handled(outFile, 1)).toHaveLength(ROWS);
    expect(handled(outFile, 2)).toEqual([ROWS + 1]);
  }, 120_000);
});
