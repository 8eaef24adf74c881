import { describe, expect, it } from 'vitest';
import { KoyoSlotError, openReplicationStream, type ReplicationStream } from '../src/index.js';
import { Collector, sleep, slotRow, sql, waitFor, streamTest } from './_helpers.js';

describe('stream errors: typed, and never "fixed" by recreating a slot', () => {
  const t = streamTest('slot_err', 'err_pub', ['CREATE TABLE items (id int PRIMARY KEY)'], {
    statusIntervalMs: 200,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  const stream = (slot: string, publications = ['err_pub']): ReplicationStream =>
    t.stream(slot, { publications });

  it('a hostile slot or publication name is refused before anything is sent', () => {
    // Nothing listens on port 1: a CONNECTION_FAILED would mean the stream tried to connect.
    const connection = 'postgres://postgres@127.0.0.1:1/postgres';
    for (const slot of [
      'x"; DROP TABLE items; --',
      'Upper',
      '',
      'a'.repeat(64),
      'with space',
      'dash-ed',
    ]) {
      expect(() => openReplicationStream({ connection, slot, publications: ['p'] })).toThrow(
        expect.objectContaining({ code: 'INVALID_IDENTIFIER' }),
      );
    }
    for (const publication of ['p", "q', "p'; DROP TABLE items; --", '', 'a'.repeat(64)]) {
      expect(() =>
        openReplicationStream({ connection, slot: 'ok', publications: [publication] }),
      ).toThrow(KoyoSlotError);
    }
    expect(() => openReplicationStream({ connection, slot: 'ok', publications: [] })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });

  it('a missing slot is a typed error, not retried, and the slot is not created', async () => {
    const s = stream('err_never_made');
    await expect(s.ready()).rejects.toMatchObject({
      name: 'KoyoSlotError',
      code: 'SLOT_NOT_FOUND',
    });
    const c = new Collector(s);
    await c.done;
    expect(c.error).toBeInstanceOf(KoyoSlotError);
    expect((c.error as KoyoSlotError).code).toBe('SLOT_NOT_FOUND');
    expect(await slotRow(t.db.url, 'err_never_made')).toBeUndefined();
  });

  it('a missing publication is a typed error', async () => {
    await t.manager.ensureSlot('err_nopub');
    const s = stream('err_nopub', ['err_pub', 'err_missing_pub']);
    await expect(s.ready()).rejects.toMatchObject({ code: 'PUBLICATION_NOT_FOUND' });
    await s.stop();
  });

  it('a slot dropped under a running stream ends it with SLOT_NOT_FOUND instead of recreating it', async () => {
    await t.manager.ensureSlot('err_dropped');
    const s = stream('err_dropped');
    const c = new Collector(s);
    await s.ready();
    await waitFor(
      'the stream to hold the slot',
      async () => (await slotRow(t.db.url, 'err_dropped'))?.activePid,
    );
    await expect(t.manager.dropSlot('err_dropped')).rejects.toMatchObject({ code: 'SLOT_ACTIVE' });
    expect(await t.manager.dropSlot('err_dropped', { force: true })).toBe(true);
    await c.done;
    expect(c.error).toMatchObject({ name: 'KoyoSlotError', code: 'SLOT_NOT_FOUND' });
    await sleep(300);
    expect(await slotRow(t.db.url, 'err_dropped')).toBeUndefined();
    expect(await t.manager.dropSlot('err_dropped')).toBe(false);
  });

  it('"slot is active for PID n" is retried: a second consumer waits as a hot standby and takes over', async () => {
    await t.manager.ensureSlot('err_standby');
    const primary = stream('err_standby');
    const c1 = new Collector(primary, (event) => {
      if (event.message.tag === 'commit') primary.acknowledge(event.message.endLsn);
    });
    await primary.ready();
    const holder = await waitFor(
      'the first stream to hold the slot',
      async () => (await slotRow(t.db.url, 'err_standby'))?.activePid,
    );
    await sql(t.db.url, 'INSERT INTO items VALUES (1)');
    await waitFor('the first stream to get row 1', () => c1.inserted().includes(1));

    const standby = stream('err_standby');
    let standbyReady = false;
    void standby.ready().then(
      () => (standbyReady = true),
      () => undefined,
    );
    const c2 = new Collector(standby, (event) => {
      if (event.message.tag === 'commit') standby.acknowledge(event.message.endLsn);
    });
    await sleep(1_000);
    expect(standbyReady).toBe(false);
    expect((await slotRow(t.db.url, 'err_standby'))?.activePid).toBe(holder);

    await waitFor('row 1 acknowledged', () => primary.flushedLsn >= c1.of('commit')[0]!.endLsn);
    await primary.stop();
    await c1.done;
    await waitFor('the standby to take over', () => standbyReady, 15_000);
    await sql(t.db.url, 'INSERT INTO items VALUES (2)');
    await waitFor('the standby to get row 2', () => c2.inserted().includes(2));
    expect(c2.inserted()).toEqual([2]);
    expect(c1.error).toBeUndefined();
    expect(c2.error).toBeUndefined();
    await standby.stop();
    await c2.done;
  });
});
