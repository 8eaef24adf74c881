// A fleet of 3 worker processes on 8 partitions handles updates of 50 keys relayed into
// JetStream; one worker is SIGKILLed mid-way. Every change is handled at least once, the changes
// of each key in commit order across the fleet, and a failing change is dead-lettered.
//
// Scale: 2,000 updates, to keep the file well under a minute; KOYO_FULL=1 runs the 10,000.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsRelay } from '../src/index.js';
import { exited, printed, spawnFixture } from './children.js';
import { readStream, uniqueName, waitFor, natsTestFile, relayOn } from './helpers.js';

const KEYS = 50;
const UPDATES = process.env.KOYO_FULL === '1' ? 10_000 : 2_000;
const PARTITIONS = 8;

let dir: string;
const slot = uniqueName('fleet');
const stream = uniqueName('FLEET');

const { db, nats } = natsTestFile('nats_fleet', { slot });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'koyo-fleet-'));
  await db.query('CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)');
  await db.query('CREATE TABLE poison (id int PRIMARY KEY)');
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

function handledLines(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' '));
  } catch {
    return [];
  }
}

describe('worker fleet', () => {
  it('handles every change with per-key order across 3 workers, one SIGKILLed, and dead-letters a failing one', async () => {
    const relay = createNatsRelay(
      relayOn(
        { db, nats },
        { slot, tables: ['counters', 'poison'], stream, partitions: PARTITIONS },
      ),
    );
    await relay.start();
    await db.query(`INSERT INTO counters SELECT g, 0 FROM generate_series(1, ${KEYS}) g`);
    await db.query('INSERT INTO poison VALUES (1)');
    for (let i = 0; i < UPDATES; i++)
      await db.query('UPDATE counters SET v = v + 1 WHERE k = $1', [
        1 + Math.floor(Math.random() * KEYS),
      ]);
    await relay.dispatcher.drain();
    await relay.stop();

    const outFile = join(dir, 'handled.log');
    const durable = uniqueName('fleet');
    const workers = [1, 2, 3].map((id) =>
      spawnFixture('worker-child.ts', [
        nats.url,
        stream,
        durable,
        String(PARTITIONS),
        outFile,
        String(id),
      ]),
    );
    await Promise.all(workers.map((worker) => printed(worker)));
    await waitFor(
      () => handledLines(outFile).length > UPDATES / 4,
      'a quarter of the updates to be handled',
    );
    workers[0]!.kill('SIGKILL');
    await exited(workers[0]!);

    const finals = new Map(
      (await db.query<{ k: number; v: number }>('SELECT k, v FROM counters')).map((row) => [
        row.k,
        row.v,
      ]),
    );
    const allHandled = (): boolean => {
      const seen = new Map<number, Set<number>>();
      for (const [, k, v] of handledLines(outFile)) {
        if (!seen.has(Number(k))) seen.set(Number(k), new Set());
        seen.get(Number(k))!.add(Number(v));
      }
      return [...finals].every(([k, v]) =>
        Array.from({ length: v + 1 }, (_, i) => i).every((value) => seen.get(k)?.has(value)),
      );
    };
    await waitFor(allHandled, 'every change to be handled', 120_000, 100);
    const nc = await connect({ servers: nats.url });
    await waitFor(
      async () =>
        (await readStream(nc, stream)).some((entry) => entry.subject === 'koyo.dead.public.poison'),
      'the dead letter',
    );
    for (const worker of workers.slice(1)) worker.kill('SIGTERM');
    await Promise.all(workers.map((worker) => exited(worker)));

    const lines = handledLines(outFile);
    expect(new Set(lines.map(([worker]) => worker)).size).toBe(3);
    // Per-key order across the fleet: in the order handlers ran (file order), each key's values
    // only go up, except that a message unacknowledged by the killed worker may run once more.
    const last = new Map<number, number>();
    const outOfOrder: string[] = [];
    for (const [worker, k, v] of lines) {
      const previous = last.get(Number(k)) ?? -1;
      if (Number(v) < previous)
        outOfOrder.push(`key ${k}: ${v} after ${previous} (worker ${worker})`);
      last.set(Number(k), Number(v));
    }
    expect(outOfOrder).toEqual([]);
    const dead = (await readStream(nc, stream)).filter(
      (entry) => entry.subject === 'koyo.dead.public.poison',
    );
    await nc.close();
    expect(dead.length).toBe(1);
    expect(dead[0]!.headers).toMatchObject({
      'Koyo-Error': 'poison',
      'Koyo-Attempts': '2',
      'Koyo-Table': 'public.poison',
    });
    expect(dead[0]!.body).toMatchObject({ table: 'poison', kind: 'insert', new: { id: 1 } });
  });
});
