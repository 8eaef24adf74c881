// `koyo backfill` and `koyo run --backfill`: existing rows reach the configured handlers as
// 'snapshot' changes; an interrupted `koyo backfill` resumes on the next run.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { koyo, startKoyo, useKoyoProject, waitUntil } from './helpers.js';

const { db, project, slot } = useKoyoProject('backfill');
const sink = join(project.dir, 'changes.jsonl');
const ROWS = 3_000;

function delivered(): { kind: string; id: number }[] {
  if (!existsSync(sink)) return [];
  return readFileSync(sink, 'utf8')
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as { kind: string; id: number });
}

beforeAll(async () => {
  await db.query('CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL)');
  await db.query(`INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, ${ROWS}) g`);
  await db.query('ANALYZE accounts');
  const init = await koyo(['init', '--slot', slot, '--table', 'accounts'], { cwd: project.dir });
  expect(init.code).toBe(0);
  // Slow enough that SIGINT lands in the middle of the backfill.
  writeFileSync(
    join(project.dir, 'koyo.handlers.ts'),
    `import { appendFileSync } from 'node:fs';
import { defineHandlers } from '@koyo/cli';

export default defineHandlers((koyo) => {
  koyo.onTable('accounts', async (change) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    appendFileSync(${JSON.stringify(sink)}, JSON.stringify({ kind: change.kind, id: change.id }) + '\\n');
  });
});
`,
  );
});

describe('koyo backfill', () => {
  it('SIGINT in the middle keeps the progress; the next koyo backfill resumes and finishes', async () => {
    const live = startKoyo(['backfill', 'accounts', '--chunk-size', '500', '--progress', 'lines'], {
      cwd: project.dir,
      env: { DATABASE_URL: db.url },
    });
    await waitUntil(() => delivered().length >= 1_200, 'some snapshot rows to be handled');
    live.child.kill('SIGINT');
    const interrupted = await live.exited;
    expect(interrupted.code, interrupted.stderr).toBe(130);
    const [saved] = await db.query<{ last_key: string[]; done: boolean }>(
      'SELECT last_key, done FROM koyo.backfill_progress WHERE slot = $1',
      [slot],
    );
    expect(saved!.done).toBe(false);
    const before = delivered().length;

    const result = await koyo(['backfill', '--progress', 'lines'], {
      cwd: project.dir,
      env: { DATABASE_URL: db.url },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('message="backfill resumed"');
    expect(result.stdout).toContain('public.accounts: 3000 rows');
    const rows = delivered();
    expect(rows.every((r) => r.kind === 'snapshot')).toBe(true);
    expect(new Set(rows.map((r) => r.id)).size).toBe(ROWS);
    // Resumed after the last acknowledged chunk: at most the chunk in flight came twice.
    expect(rows.length - ROWS).toBeLessThanOrEqual(500);
    expect(rows.slice(before).find((r) => r.id <= Number(saved!.last_key[0]))).toBeUndefined();
  });

  it('koyo run --backfill backfills and keeps streaming', async () => {
    writeFileSync(sink, '');
    const live = startKoyo(['run', '--backfill', '--stats-interval', '0', '--progress', 'lines'], {
      cwd: project.dir,
      env: { DATABASE_URL: db.url },
    });
    await live.waitFor(/message="backfill done"/, 'the backfill to finish');
    await db.query("INSERT INTO accounts VALUES (100000, 'late')");
    await waitUntil(() => delivered().some((r) => r.id === 100000), 'the streamed insert');
    live.child.kill('SIGTERM');
    const result = await live.exited;
    expect(result.code, result.stderr).toBe(0);
    const rows = delivered();
    expect(rows.filter((r) => r.kind === 'snapshot')).toHaveLength(ROWS);
    expect(rows.at(-1)).toEqual({ kind: 'insert', id: 100000 });
  });

  it('koyo backfill --help names the command', async () => {
    const result = await koyo(['backfill', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: koyo backfill');
    expect(result.stdout).toContain('--chunk-size');
  });
});
