// The relay on a real PostgreSQL and a real nats-server: what it publishes (subjects, partitions,
// body, headers), the stream it creates, and that a restarted relay skips what the stream holds.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import {
  createNatsRelay,
  partitionOf,
  type NatsRelay,
  type NatsRelayOptions,
} from '../src/index.js';
import { confirmedFlush, dropSlot, lsn, readStream, uniqueName, natsTestFile } from './helpers.js';

const { db, nats, nc } = natsTestFile('nats_relay', {
  statements: ['CREATE TABLE items (id int PRIMARY KEY, name text, n bigint)'],
  connect: true,
});

/** A relay of table items into `stream`, on a new publication and the slot `slot`. */
function itemsRelay(
  slot: string,
  stream: string,
  options: Pick<NatsRelayOptions, 'subjectPrefix' | 'partitions'>,
): NatsRelay {
  return createNatsRelay({
    dispatcher: {
      connection: db.url,
      slot,
      publication: uniqueName('pub'),
      tables: ['items'],
      logger: false,
    },
    nats: { servers: nats.url },
    stream,
    ...options,
  });
}

describe('createNatsRelay', () => {
  it('publishes each change as JSON under <prefix>.<schema>.<table>.<partition> with its idempotency headers', async () => {
    const slot = uniqueName('relay');
    const stream = uniqueName('S');
    const relay = itemsRelay(slot, stream, { subjectPrefix: 'cdc', partitions: 4 });
    const seen: unknown[] = [];
    relay.dispatcher.onChange((change) => void seen.push(change));
    await relay.start();
    await db.query(
      "INSERT INTO items SELECT g, 'n' || g, g * 1000000000000 FROM generate_series(1, 20) g",
    );
    await db.query("UPDATE items SET name = 'x' WHERE id = 3");
    await db.query('DELETE FROM items WHERE id = 4');
    await relay.dispatcher.drain();
    await relay.stop();
    await relay.closed;

    const entries = await readStream(nc, stream);
    expect(entries.length).toBe(22);
    expect(entries.map((entry) => entry.body)).toEqual(JSON.parse(JSON.stringify(seen)));
    for (const entry of entries) {
      const change = entry.body as {
        schema: string;
        table: string;
        kind: string;
        key: Record<string, unknown>;
        commitLsn: string;
        position: number;
      };
      expect(entry.subject).toBe(`cdc.public.items.${partitionOf(change.key, 4)}`);
      expect(entry.headers).toMatchObject({
        'Nats-Msg-Id': `${slot}:${change.commitLsn}:${change.position}`,
        'Koyo-Commit-Lsn': change.commitLsn,
        'Koyo-Position': String(change.position),
        'Koyo-Table': 'public.items',
        'Koyo-Kind': change.kind,
      });
    }
    expect(new Set(entries.map((entry) => entry.subject)).size).toBeGreaterThan(1);
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    expect(info.config).toMatchObject({
      subjects: ['cdc.>'],
      storage: 'file',
      duplicate_window: 120_000 * 1_000_000,
    });
    // Acknowledged only what JetStream holds: the slot is at or past the last published commit.
    const last = entries.at(-1)!.body as { commitLsn: string };
    expect(await confirmedFlush(db, slot)).toBeGreaterThanOrEqual(lsn(last.commitLsn));
    await dropSlot(db, slot);
  });

  it('a restarted relay skips what the stream already holds, beyond the duplicate window', async () => {
    const slot = uniqueName('again');
    const backup = uniqueName('backup');
    const stream = uniqueName('S');
    const publication = uniqueName('pub');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE items`);
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await db.query('SELECT pg_copy_logical_replication_slot($1, $2)', [slot, backup]);
    await db.query("INSERT INTO items SELECT g, 'again', 0 FROM generate_series(1001, 1030) g");
    const options = {
      dispatcher: { connection: db.url, slot, publication, logger: false as const },
      nats: { servers: nats.url },
      stream,
      duplicateWindowMs: 1000,
    };
    const first = createNatsRelay(options);
    await first.start();
    await first.dispatcher.drain();
    await first.stop();
    expect(first.stats().published).toBe(30);
    // Rewind: the slot comes back at its old position, so all 30 changes are delivered again,
    // after the duplicate window has passed (JetStream alone would store them twice).
    await dropSlot(db, slot);
    await db.query('SELECT pg_copy_logical_replication_slot($1, $2)', [backup, slot]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await db.query("INSERT INTO items VALUES (1031, 'after', 0)");
    const second = createNatsRelay(options);
    await second.start();
    await second.dispatcher.drain();
    await second.stop();
    expect(second.stats()).toMatchObject({ alreadyStored: 30, published: 1, duplicates: 0 });
    const entries = await readStream(nc, stream);
    expect(entries.length).toBe(31);
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(31);
    await dropSlot(db, slot);
    await dropSlot(db, backup);
  });

  it('stays exactly once and in order while another publisher writes into the same stream', async () => {
    const slot = uniqueName('shared');
    const stream = uniqueName('SHARED');
    const relay = itemsRelay(slot, stream, { subjectPrefix: 'shared' });
    await relay.start();
    const js = jetstream(nc);
    let foreign = 0;
    let writing = true;
    // Foreign messages land between the relay's chunks and inside them, so the relay's
    // sequence check fails and it falls back to one acknowledged publish per message.
    const other = (async () => {
      while (writing) {
        await js.publish('shared.other.noise', '{}');
        foreign += 1;
      }
    })();
    for (let t = 0; t < 40; t++) {
      await db.query(
        `INSERT INTO items SELECT g, 'shared', 0 FROM generate_series(${2000 + t * 25}, ${2000 + t * 25 + 24}) g`,
      );
    }
    await relay.dispatcher.drain();
    writing = false;
    await other;
    await relay.stop();
    const entries = (await readStream(nc, stream)).filter(
      (entry) => entry.subject !== 'shared.other.noise',
    );
    expect(foreign).toBeGreaterThan(0);
    expect(entries.length).toBe(1000);
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(1000);
    const ids = entries.map((entry) => (entry.body as { new: { id: number } }).new.id);
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => 2000 + i));
    await dropSlot(db, slot);
  });
});
