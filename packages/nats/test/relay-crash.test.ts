// Exactly once into the stream: a relay in a child process is SIGKILLed at random moments while
// rows are written in transactions of mixed size; a last relay catches up. The stream then holds
// exactly one message per committed change, and each subject's messages are in commit order.
//
// Scale: 8,000 rows and 5 kills, so the file runs in well under a minute per PostgreSQL flavour
// on a shared 2-core machine; KOYO_FULL=1 runs the 50,000 rows and 10 kills.
import { jetstreamManager } from '@nats-io/jetstream';
import { lastRunCatchesUp, writeWhileKilling } from '@koyo/testing/vitest';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { printed, spawnFixture } from './children.js';
import { lsn, readStream, uniqueName, natsTestFile } from './helpers.js';

const FULL = process.env.KOYO_FULL === '1';
const TOTAL_ROWS = FULL ? 50_000 : 8_000;
const KILLS = FULL ? 10 : 5;
const PARTITIONS = 4;

const slot = uniqueName('rcrash');
const publication = uniqueName('rcrash_pub');
const stream = uniqueName('CRASH');

const { db, nats, nc } = natsTestFile('nats_crash', {
  slot,
  statements: ['CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL)'],
  connect: true,
});

beforeAll(async () => {
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE events`);
  await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
});

const relayArgs = (): string[] => [db.url, slot, publication, nats.url, stream, String(PARTITIONS)];

describe('relay crash safety', () => {
  it('stores exactly one message per committed change, in commit order per subject, across SIGKILLs', async () => {
    const writer = new pg.Client(db.url);
    await writer.connect();
    await writeWhileKilling({
      kills: {
        runs: KILLS,
        start: () => spawnFixture('relay-child.ts', relayArgs()),
        ready: (child) => printed(child),
        minDelayMs: 100,
        spreadMs: 1200,
      },
      rows: TOTAL_ROWS,
      sizes: [
        [0.5, 1, 0],
        [0.8, 2, 20],
        [0.97, 50, 200],
        [1, 1500, 0],
      ],
      write: async (size) => {
        await writer.query(
          'INSERT INTO events (k) SELECT (random() * 50)::int FROM generate_series(1, $1)',
          [size],
        );
      },
      pause: (trickle) => (trickle ? 50 : Math.random() < 0.3 ? 10 : 0),
    });
    await writer.end();

    const committed = Number(
      (await db.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]!.n,
    );
    const final = spawnFixture('relay-child.ts', relayArgs());
    await printed(final);
    const jsm = await jetstreamManager(nc);
    await lastRunCatchesUp(
      final,
      async () => (await jsm.streams.info(stream)).state.messages >= committed,
      120_000,
      200,
    );
    expect(final.exitCode).toBe(0);

    const entries = await readStream(nc, stream);
    expect(entries.length).toBe(committed);
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(committed);
    const ids = new Set(
      entries.map((entry) => String((entry.body as { new: { id: string } }).new.id)),
    );
    const rows = await db.query<{ id: string }>('SELECT id::text FROM events');
    expect(rows.filter((row) => !ids.has(row.id))).toEqual([]);
    const last = new Map<string, [bigint, number]>();
    const outOfOrder: string[] = [];
    for (const entry of entries) {
      const body = entry.body as { commitLsn: string; position: number };
      const place: [bigint, number] = [lsn(body.commitLsn), body.position];
      const before = last.get(entry.subject);
      if (before && !(place[0] > before[0] || (place[0] === before[0] && place[1] > before[1])))
        outOfOrder.push(`${entry.subject} seq ${entry.seq}`);
      last.set(entry.subject, place);
    }
    expect(outOfOrder).toEqual([]);
    expect(last.size).toBe(PARTITIONS);
  });
});
