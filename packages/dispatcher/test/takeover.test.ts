// Two dispatchers on one slot: the first streams, the second waits (its stream retries while
// PostgreSQL says the slot is active) and takes over when the first dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/index.js';
import { waitFor } from './helpers.js';
import { slotFixture } from '@koyo/testing/vitest';

const here = dirname(fileURLToPath(import.meta.url));
const fx = slotFixture('standby', {
  statements: [
    'CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL, seq int NOT NULL, pad text)',
    'CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)',
  ],
  publish: 'events, counters',
});
const { slot, publication } = fx;

function handledIds(file: string): Set<number> {
  if (!existsSync(file)) return new Set();
  return new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.split(' ')[3] === 'e')
      .map((line) => Number(line.split(' ')[6])),
  );
}

describe('hot standby', () => {
  it('a second dispatcher on the same slot waits, then takes over when the first is killed', async () => {
    const file = join(fx.dir, 'active.log');
    const active: ChildProcess = spawn(
      process.execPath,
      [
        '--conditions=@koyo/source',
        '--import',
        'tsx',
        join(here, 'fixtures/crash-child.ts'),
        fx.db.url,
        slot,
        publication,
        file,
        '1',
        '1',
      ],
      // No tsx transform cache: a child SIGKILLed while tsx writes it could leave a truncated entry.
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSX_DISABLE_CACHE: '1' } },
    );
    await new Promise<void>((resolve) =>
      active.stdout!.on(
        'data',
        (chunk: Buffer) => chunk.toString().includes('started') && resolve(),
      ),
    );
    await waitFor(
      async () =>
        (
          await fx.db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [
            slot,
          ])
        ).length === 1,
      'the first dispatcher to hold the slot',
    );

    const standby = createDispatcher({
      connection: fx.db.url,
      slot,
      publication,
      createSlot: false,
      createPublication: false,
      logger: false,
      reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
    });
    const seen: number[] = [];
    standby.onTable(
      'events',
      (change) => void seen.push(Number((change.new as { id: string }).id)),
    );
    await standby.start();

    await fx.db.query('INSERT INTO events (k, seq) SELECT 1, g FROM generate_series(1, 10) g');
    await waitFor(
      () => handledIds(file).size === 10,
      'the active dispatcher to handle the first rows',
    );
    await new Promise((resolve) => setTimeout(resolve, 500)); // the standby keeps retrying meanwhile
    expect(seen).toEqual([]);
    expect(standby.stats().state).toBe('running');

    active.kill('SIGKILL');
    await new Promise((resolve) => active.once('exit', resolve));
    await fx.db.query('INSERT INTO events (k, seq) SELECT 2, g FROM generate_series(1, 10) g');
    await standby.drain(); // resolves once the standby streams and handled everything before it
    const all = new Set([...handledIds(file), ...seen]);
    for (let id = 1; id <= 20; id++) expect(all.has(id), `row ${id}`).toBe(true);
    expect(seen.filter((id) => id > 10)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const holder = await fx.db.query<{ pid: number }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    expect(holder[0]!.pid).not.toBeNull();
    await standby.stop();
  });
});
