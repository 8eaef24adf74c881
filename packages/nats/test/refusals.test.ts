// Refusals: hostile stream and subject names, a stream with a too-short duplicate window, a table
// whose name cannot be a subject token. Each is a typed error, and nothing is published.
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { createNatsRelay, KoyoNatsError } from '../src/index.js';
import { addStream, dropSlot, readStream, uniqueName, waitFor, natsTestFile } from './helpers.js';

const { db, nats, nc } = natsTestFile('nats_refusals', {
  statements: [
    'CREATE TABLE plain (id int PRIMARY KEY)',
    'CREATE TABLE "we.ird" (id int PRIMARY KEY)',
  ],
  connect: true,
});

function relayOptions(overrides: Record<string, unknown>) {
  return {
    dispatcher: {
      connection: db.url,
      slot: uniqueName('ref'),
      publication: uniqueName('pub'),
      tables: ['plain'],
      logger: false as const,
    },
    nats: { servers: nats.url },
    ...overrides,
  };
}

async function slotExists(slot: string): Promise<boolean> {
  return (
    (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).length > 0
  );
}

describe('refusals', () => {
  it.each([
    ['stream', 'KOYO.>'],
    ['stream', 'a b'],
    ['stream', ''],
    ['stream', '../etc'],
    ['subjectPrefix', 'koyo.*'],
    ['subjectPrefix', 'koyo.>'],
    ['subjectPrefix', 'ko yo'],
    ['subjectPrefix', 'koyo..x'],
  ])('refuses %s %j with INVALID_NAME before connecting', (option, value) => {
    const create = () => createNatsRelay(relayOptions({ [option]: value }));
    expect(create).toThrow(KoyoNatsError);
    expect(create).toThrow(expect.objectContaining({ code: 'INVALID_NAME' }));
  });

  it('refuses a stream whose duplicate window is shorter than duplicateWindowMs, before creating the slot', async () => {
    const stream = await addStream(nc, 'SHORT', 'koyo', { storage: 'file', windowMs: 1000 });
    const options = relayOptions({ stream });
    const relay = createNatsRelay(options);
    await db.query('INSERT INTO plain VALUES (1)');
    await expect(relay.start()).rejects.toMatchObject({
      name: 'KoyoNatsError',
      code: 'DUPLICATE_WINDOW_TOO_SHORT',
    });
    expect(await slotExists(options.dispatcher.slot)).toBe(false);
    expect(await readStream(nc, stream)).toEqual([]);
  });

  it('refuses to create a stream whose subjects another stream captures', async () => {
    await (
      await jetstreamManager(nc)
    ).streams.add({ name: uniqueName('TAKEN'), subjects: ['taken.>'] });
    await expect(
      createNatsRelay(relayOptions({ stream: uniqueName('NEW'), subjectPrefix: 'taken' })).start(),
    ).rejects.toMatchObject({
      code: 'STREAM_MISMATCH',
    });
  });

  it('refuses a stream that does not capture <prefix>.> or is in memory', async () => {
    const jsm = await jetstreamManager(nc);
    const other = uniqueName('OTHER');
    await jsm.streams.add({ name: other, subjects: ['elsewhere.>'], storage: StorageType.File });
    await expect(createNatsRelay(relayOptions({ stream: other })).start()).rejects.toMatchObject({
      code: 'STREAM_MISMATCH',
    });
    const memory = await addStream(nc, 'MEM', 'mem', { storage: 'memory', windowMs: 600_000 });
    await expect(
      createNatsRelay(relayOptions({ stream: memory, subjectPrefix: 'mem' })).start(),
    ).rejects.toMatchObject({ code: 'STREAM_MISMATCH' });
  });

  it('stops on a table whose name is not a subject token, publishing nothing and acknowledging nothing', async () => {
    const stream = uniqueName('WEIRD');
    const options = relayOptions({ stream, subjectPrefix: 'weird' });
    options.dispatcher.tables = ['"we.ird"'];
    const relay = createNatsRelay(options);
    await relay.start();
    await db.query('INSERT INTO "we.ird" VALUES (1)');
    await expect(relay.closed).rejects.toMatchObject({
      name: 'KoyoNatsError',
      code: 'INVALID_NAME',
    });
    expect(await readStream(nc, stream)).toEqual([]);
    await waitFor(
      async () =>
        !(
          await db.query<{ active: boolean }>(
            'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
            [options.dispatcher.slot],
          )
        )[0]?.active,
      'slot released',
    );
    // Not acknowledged: the slot still holds the insert (server truth). The slot's position itself
    // may move over other databases' idle WAL before the insert, so it is not compared.
    const pending = await db.query<{ inserts: number }>(
      `SELECT count(*)::int AS inserts
         FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
              'proto_version', '1', 'publication_names', $2)
        WHERE get_byte(data, 0) = ascii('I')`,
      [options.dispatcher.slot, options.dispatcher.publication],
    );
    expect(pending).toEqual([{ inserts: 1 }]);
    await dropSlot(db, options.dispatcher.slot);
  });
});
