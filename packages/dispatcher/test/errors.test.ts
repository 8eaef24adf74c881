import { describe, expect, it } from 'vitest';
import { KoyoDispatcherError, type Change, type DeliveryItem } from '../src/index.js';
import { confirmedFlush, fileDb, freshDispatchers, lsn, waitFor } from './helpers.js';

const db = fileDb('disp_errors', 'CREATE TABLE jobs (id int PRIMARY KEY, name text)');

const fresh = freshDispatchers(db, 'err', { tables: ['jobs'] });

const retry = { attempts: 3, backoffMs: 5, maxBackoffMs: 20 };

describe('a handler that keeps failing', () => {
  it('is retried, then stops the dispatcher without acknowledging; after a restart the change comes again', async () => {
    const { dispatcher: first, slot, publication } = fresh({ retry });
    const calls: number[] = [];
    first.onTable('jobs', (change) => {
      const id = change.id as number;
      calls.push(id);
      if (id === 2) throw new Error('boom on 2');
    });
    await first.start();
    await first.drain();
    await db.query("INSERT INTO jobs VALUES (1, 'one')");
    await db.query("INSERT INTO jobs VALUES (2, 'two')");
    await db.query("INSERT INTO jobs VALUES (3, 'three')");

    const error = await first.closed.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KoyoDispatcherError);
    expect((error as KoyoDispatcherError).code).toBe('HANDLER_FAILED');
    expect((error as KoyoDispatcherError).cause).toMatchObject({ message: 'boom on 2' });
    expect(((error as KoyoDispatcherError).item as Change).id).toBe(2);
    expect(calls).toEqual([1, 2, 2, 2]); // 3 attempts, and 3 never started
    expect(first.stats()).toMatchObject({ state: 'failed', handlerErrors: 3, retries: 2 });
    // Server truth: the slot did not move past the failing transaction's commit.
    const failedCommit = lsn(((error as KoyoDispatcherError).item as Change).commitLsn);
    expect(await confirmedFlush(db, slot)).toBeLessThanOrEqual(failedCommit);

    // A new dispatcher on the same slot gets the failed change again, then the next one.
    const { dispatcher: second } = fresh({ slot, publication, retry });
    const again: number[] = [];
    second.onTable('jobs', (change) => void again.push(change.id as number));
    await second.start();
    await second.drain();
    expect(again).toEqual([2, 3]);
    await second.stop();
    expect(await confirmedFlush(db, slot)).toBeGreaterThan(failedCommit);
  });

  it('goes to deadLetter, and later changes continue', async () => {
    const parked: DeliveryItem[] = [];
    const { dispatcher: d, slot } = fresh({
      retry,
      deadLetter: (item) => void parked.push(item),
    });
    const handled: number[] = [];
    d.onTable('jobs', {
      update: async (change) => {
        await Promise.resolve();
        if (change.new?.name === 'poison') throw new Error('cannot handle poison');
        handled.push(change.id as number);
      },
    });
    await d.start();
    await d.drain();
    await db.query("UPDATE jobs SET name = 'poison' WHERE id = 1");
    await db.query("UPDATE jobs SET name = 'fine' WHERE id = 3");
    const after = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await d.drain();
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({
      kind: 'update',
      table: 'jobs',
      id: 1,
      new: { id: 1, name: 'poison' },
    });
    expect(handled).toEqual([3]);
    expect(d.stats()).toMatchObject({ state: 'running', deadLettered: 1, handlerErrors: 3 });
    await d.stop();
    expect(await confirmedFlush(db, slot)).toBeGreaterThanOrEqual(lsn(after[0]!.lsn));
  });

  it('is skipped only when onError says so, and the skip is logged and counted', async () => {
    const lines: string[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (obj: object, msg?: string) => void lines.push(`${msg} ${JSON.stringify(obj)}`),
      error: (obj: object, msg?: string) => void lines.push(`${msg} ${JSON.stringify(obj)}`),
    };
    const decisions: string[] = [];
    const { dispatcher: d } = fresh({
      retry: { attempts: 1 },
      logger,
      onError: (error, item) => {
        decisions.push(`${error.message} ${(item as Change).id}`);
        return 'skip';
      },
    });
    const handled: number[] = [];
    d.onTable('jobs', (change) => {
      if (change.kind === 'delete' && change.id === 1) throw new Error('no deletes of 1');
      handled.push(change.id as number);
    });
    await d.start();
    await d.drain();
    await db.query('DELETE FROM jobs WHERE id IN (1, 2)');
    await d.drain();
    expect(decisions).toEqual(['no deletes of 1 1']);
    expect(handled).toEqual([2]);
    expect(d.stats().skipped).toBe(1);
    expect(lines.some((line) => line.includes('skipped') && line.includes('no deletes of 1'))).toBe(
      true,
    );
    await d.stop();
  });

  it('stop() waits for a running handler and acknowledges only what finished', async () => {
    const { dispatcher: d, slot, publication } = fresh();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: (commitLsn: string) => void;
    const inHandler = new Promise<string>((resolve) => (entered = resolve));
    let finished = false;
    d.onTable('jobs', async (change) => {
      if (change.id === 10) {
        entered(change.commitLsn);
        await gate;
        finished = true;
      }
    });
    await d.start();
    await d.drain();
    await db.query("INSERT INTO jobs VALUES (10, 'slow')");
    await db.query("INSERT INTO jobs VALUES (11, 'later')");
    const commit = lsn(await inHandler);
    // 10's commit is received while its handler runs (the received position passes 10's commit
    // LSN once its commit message arrives).
    await waitFor(() => lsn(d.stats().receivedLsn) > commit, 'the commit of 10 received');
    const stopped = d.stop();
    setTimeout(release, 50);
    await stopped;
    expect(finished).toBe(true);
    expect(d.stats().state).toBe('stopped');
    // Server truth: 10's transaction, finished, is confirmed (its end is past its commit LSN)...
    expect(await confirmedFlush(db, slot)).toBeGreaterThan(commit);
    // ...and 11's, never handled, is not: the next dispatcher on the slot starts with it.
    const { dispatcher: next } = fresh({ slot, publication });
    const again: number[] = [];
    next.onTable('jobs', (change) => void again.push(change.id as number));
    await next.start();
    await next.drain();
    expect(again).toEqual([11]);
    await next.stop();
  });
});
