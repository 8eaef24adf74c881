import { describe, expect, it } from 'vitest';
import { parseLsn } from '@koyo/pgoutput';
import { dispatcherFor, dropSlot, fileDb, uniqueName, waitFor } from './helpers.js';

const db = fileDb('disp_defer');

describe('batch.defer()', () => {
  it('delivers later chunks at once but acknowledges a transaction only when its deferred chunk is done', async () => {
    await db.query('CREATE TABLE d_a (id int PRIMARY KEY)');
    const slot = uniqueName('defer');
    const d = dispatcherFor(db, { slot, tables: ['d_a'] });
    const pending: { commitLsn: string; done: (error?: unknown) => void }[] = [];
    d.onTransaction(
      (batch) => void pending.push({ commitLsn: batch.commitLsn, done: batch.defer() }),
    );
    await d.start();
    for (let id = 1; id <= 3; id++) await db.query('INSERT INTO d_a VALUES ($1)', [id]);
    // All three transactions are delivered while the first is still not done.
    await waitFor(() => pending.length === 3, 'three deliveries');
    const acknowledged = (): bigint => parseLsn(d.stats().acknowledgedLsn);
    const before = acknowledged();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(acknowledged()).toBe(before);
    // Done out of order: nothing passes the first until it is done, then all are acknowledged.
    pending[1]!.done();
    pending[2]!.done();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(acknowledged()).toBe(before);
    pending[0]!.done();
    await waitFor(() => acknowledged() >= parseLsn(pending[2]!.commitLsn), 'the acknowledgement');
    await d.stop();
    await dropSlot(db, slot);
  });

  it('done(error) stops the dispatcher without acknowledging the chunk, and stop() waits for deferred chunks', async () => {
    await db.query('CREATE TABLE d_b (id int PRIMARY KEY)');
    const slot = uniqueName('defer');
    const d = dispatcherFor(db, { slot, tables: ['d_b'] });
    const pending: { commitLsn: string; done: (error?: unknown) => void }[] = [];
    d.onTransaction(
      (batch) => void pending.push({ commitLsn: batch.commitLsn, done: batch.defer() }),
    );
    await d.start();
    await db.query('INSERT INTO d_b VALUES (1)');
    await waitFor(() => pending.length === 1, 'the delivery');
    const acknowledgedBefore = parseLsn(d.stats().acknowledgedLsn);
    let stopped = false;
    const stopping = d.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stopped).toBe(false); // waits for the deferred chunk
    pending[0]!.done(new Error('broker refused'));
    await stopping;
    await expect(d.closed).rejects.toMatchObject({ code: 'HANDLER_FAILED' });
    expect(parseLsn(d.stats().acknowledgedLsn)).toBe(acknowledgedBefore);
    expect(parseLsn(d.stats().acknowledgedLsn)).toBeLessThan(parseLsn(pending[0]!.commitLsn));
    await dropSlot(db, slot);
  });
});
