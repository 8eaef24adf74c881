// Backfill rows (`'snapshot'` changes from dispatcher.backfill()) are relayed like streamed
// changes: the same subjects and partitions, the same idempotency headers, and a body whose
// JSON.parse deep-equals the Change; read back from the stream as JetStream stores it.
import { beforeAll, describe, expect, it } from 'vitest';
import { createNatsRelay, partitionOf, type Change } from '../src/index.js';
import { dropSlot, readStream, uniqueName, natsTestFile, relayOn } from './helpers.js';

const ROWS = 25;
const PARTITIONS = 4;

const { db, nats, nc } = natsTestFile('nats_snapshot', {
  statements: ['CREATE TABLE seeded (id int PRIMARY KEY, name text, doc jsonb)'],
  connect: true,
});

beforeAll(async () => {
  await db.query(
    `INSERT INTO seeded SELECT g, 'row ' || g, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g))
       FROM generate_series(1, ${ROWS}) g`,
  );
});

describe('backfill through the relay', () => {
  it('publishes snapshot rows with the subjects, headers and bodies of streamed changes', async () => {
    const slot = uniqueName('snap');
    const stream = uniqueName('SNAP');
    const relay = createNatsRelay(
      relayOn({ db, nats }, { slot, tables: ['seeded'], stream, partitions: PARTITIONS }),
    );
    const seen: Change[] = [];
    relay.dispatcher.onChange((change) => void seen.push(change));
    await relay.start();
    // A streamed change before, during and after the backfill (chunks of 7: 4 chunks).
    await db.query("UPDATE seeded SET name = 'before' WHERE id = 1");
    const backfill = relay.dispatcher.backfill('seeded', { chunkSize: 7 });
    await db.query("INSERT INTO seeded VALUES (1000, 'during', '{}')");
    const result = await backfill;
    await db.query("UPDATE seeded SET name = 'after' WHERE id = 2");
    await relay.dispatcher.drain();
    await relay.stop();
    await relay.closed;

    expect(result.tables).toMatchObject([{ table: 'public.seeded', chunks: 4 }]);
    const snapshots = seen.filter((change) => change.kind === 'snapshot');
    // Every row the table held when its chunk was read (the insert during it may be among them).
    expect(snapshots.length).toBeGreaterThanOrEqual(ROWS);
    expect(new Set(snapshots.map((change) => change.id)).size).toBe(snapshots.length);

    const entries = await readStream(nc, stream);
    // Everything the dispatcher delivered, in its order, stored once.
    expect(entries.map((entry) => entry.body)).toEqual(JSON.parse(JSON.stringify(seen)));
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(entries.length);
    const stored = entries.filter((entry) => (entry.body as { kind: string }).kind === 'snapshot');
    expect(stored).toHaveLength(snapshots.length);
    for (const [i, entry] of stored.entries()) {
      const change = snapshots[i]!;
      expect(entry.body).toEqual(JSON.parse(JSON.stringify(change)));
      expect(entry.subject).toBe(`koyo.public.seeded.${partitionOf(change.key, PARTITIONS)}`);
      expect(entry.headers).toMatchObject({
        'Nats-Msg-Id': `${slot}:${change.commitLsn}:${change.position}`,
        'Koyo-Commit-Lsn': change.commitLsn,
        'Koyo-Position': String(change.position),
        'Koyo-Table': 'public.seeded',
        'Koyo-Kind': 'snapshot',
      });
    }
    // The rows as the table holds them (jsonb included), one snapshot message per row.
    const rows = await db.query<{ id: number; name: string; doc: unknown }>(
      'SELECT id, name, doc FROM seeded WHERE id <= $1 ORDER BY id',
      [ROWS],
    );
    const bodies = new Map(
      stored.map((entry) => {
        const change = entry.body as { id: number; new: Record<string, unknown> };
        return [change.id, change.new];
      }),
    );
    for (const row of rows.filter((r) => r.id > 2)) expect(bodies.get(row.id)).toEqual(row);
    expect(new Set(stored.map((entry) => entry.subject)).size).toBeGreaterThan(1);
    await dropSlot(db, slot);
  });
});
