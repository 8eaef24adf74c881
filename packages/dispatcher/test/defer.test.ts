import { describe, expect, it } from 'vitest';
import { parseLsn } from '@koyo/pgoutput';
import { fileDb, freshDispatchers, waitFor } from './helpers.js';

const db = fileDb('disp_defer', 'CREATE TABLE deferred (id int PRIMARY KEY)');
const fresh = freshDispatchers(db, 'defer');

/** A started dispatcher that defers every transaction chunk; `pending` holds each chunk's `done`. */
async function deferring() {
  const { dispatcher } = fresh({ tables: ['deferred'] });
  const pending: { commitLsn: string; done: (error?: unknown) => void }[] = [];
  dispatcher.onTransaction(
    (batch) => void pending.push({ commitLsn: batch.commitLsn, done: batch.defer() }),
  );
  await dispatcher.start();
  const acknowledged = (): bigint => parseLsn(dispatcher.stats().acknowledgedLsn);
  return { d: dispatcher, pending, acknowledged };
}

describe('batch.defer()', () => {
  it('delivers later chunks at once but acknowledges a transaction only when its deferred chunk is done', async () => {
    const { pending, acknowledged } = await deferring();
    for (let id = 1; id <= 3; id++) await db.query('INSERT INTO deferred VALUES ($1)', [id]);
    // All three transactions are delivered while the first is still not done.
    await waitFor(() => pending.length === 3, 'three deliveries');
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
  });

  it('done(error) stops the dispatcher without acknowledging the chunk, and stop() waits for deferred chunks', async () => {
    const { d, pending, acknowledged } = await deferring();
    await db.query('INSERT INTO deferred VALUES (4)');
    await waitFor(() => pending.length === 1, 'the delivery');
    const acknowledgedBefore = acknowledged();
    let stopped = false;
    const stopping = d.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stopped).toBe(false); // waits for the deferred chunk
    pending[0]!.done(new Error('broker refused'));
    await stopping;
    await expect(d.closed).rejects.toMatchObject({ code: 'HANDLER_FAILED' });
    expect(acknowledged()).toBe(acknowledgedBefore);
    expect(acknowledged()).toBeLessThan(parseLsn(pending[0]!.commitLsn));
  });
});
