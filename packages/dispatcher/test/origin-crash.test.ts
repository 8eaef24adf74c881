// Loop-safe writes under SIGKILL: a child dispatcher whose handler updates the table it listens
// to through dispatcher.db (with the exactly-once sink pattern) is killed at random moments while
// orders are written. Afterwards every order was handled, none twice in effect, and none of the
// handler's own writes came back as a change.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  outputSeen,
  sleep,
  spawnSource,
  slotFixture,
  killAtRandomMoments,
} from '@koyo/testing/vitest';
import { describe, expect, it } from 'vitest';
import { lastRunCatchesUp, lsn } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const ORDERS = 3000;
const KILLS = 4;

const fx = slotFixture('ocrash', {
  statements: [
    'CREATE TABLE orders (id serial PRIMARY KEY, price int NOT NULL, qty int NOT NULL, total int)',
    'CREATE TABLE audit (id serial PRIMARY KEY, order_id int NOT NULL)',
    'CREATE TABLE handled (commit_lsn pg_lsn, position int, kind text NOT NULL, order_id int NOT NULL, PRIMARY KEY (commit_lsn, position))',
  ],
  publish: 'orders, audit, handled',
  cleanup: (db, { slot }) =>
    db.query(
      'SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1',
      [`koyo_${slot}`],
    ),
});
const { slot, publication } = fx;
const origin = `koyo_${slot}`;

function startChild(run: number): ChildProcess {
  return spawnSource(join(here, 'fixtures/origin-child.ts'), [
    fx.db.url,
    slot,
    publication,
    String(run % 2 === 0 ? 4 : 1),
    join(fx.dir, 'calls.log'),
  ]);
}

const started = (child: ChildProcess): Promise<void> => outputSeen(child, 'started');

describe('origin-tagged handler writes under SIGKILL', () => {
  it('no lost change, no duplicate effect, no echo', async () => {
    const writer = new pg.Client(fx.db.url);
    await writer.connect();
    let written = 0;
    let kills = 0;
    const write = async (): Promise<void> => {
      while (written < ORDERS) {
        const size = Math.min(ORDERS - written, 1 + Math.floor(Math.random() * 50));
        await writer.query(
          `INSERT INTO orders (price, qty) SELECT g, 3 FROM generate_series(1, ${size}) g`,
        );
        written += size;
        if (Math.random() < 0.3) await sleep(Math.floor(Math.random() * 20));
      }
    };
    const crash = (): Promise<void> =>
      killAtRandomMoments({
        runs: KILLS,
        start: startChild,
        ready: started,
        // A new child waits (bounded) for the killed one's origin session to be reaped.
        minDelayMs: 50,
        spreadMs: 700,
        killed: () => void kills++,
      });
    await Promise.all([write(), crash()]);
    await writer.end();
    expect(kills).toBe(KILLS);

    const final = startChild(KILLS + 1);
    await started(final);
    await lastRunCatchesUp(
      final,
      async () => {
        const [row] = await fx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM handled');
        return row!.n >= ORDERS;
      },
      300_000,
      100,
    );
    expect(final.exitCode).toBe(0);

    const [truth] = await fx.db.query<{
      orders: number;
      priced: number;
      handled: number;
      inserts: number;
      audit: number;
      audited: number;
    }>(
      `SELECT (SELECT count(*)::int FROM orders) AS orders,
              (SELECT count(*)::int FROM orders WHERE total = price * qty) AS priced,
              (SELECT count(*)::int FROM handled) AS handled,
              (SELECT count(DISTINCT order_id)::int FROM handled WHERE kind = 'insert') AS inserts,
              (SELECT count(*)::int FROM audit) AS audit,
              (SELECT count(DISTINCT order_id)::int FROM audit) AS audited`,
    );
    // Every order handled (nothing lost), each effect once (the sink), and the handled changes
    // are exactly the inserts: the handler's own updates and audit rows never came back.
    expect(truth).toEqual({
      orders: ORDERS,
      priced: ORDERS,
      handled: ORDERS,
      inserts: ORDERS,
      audit: ORDERS,
      audited: ORDERS,
    });
    // The origin's recorded progress is the last handled transaction, written with its effect.
    const [progress] = await fx.db.query<{ recorded: string; last: string }>(
      `SELECT (SELECT s.remote_lsn::text FROM pg_replication_origin_status s
                 JOIN pg_replication_origin o ON o.roident = s.local_id WHERE o.roname = $1) AS recorded,
              (SELECT max(commit_lsn)::text FROM handled) AS last`,
      [origin],
    );
    expect(lsn(progress!.recorded)).toBe(lsn(progress!.last));
    // For the record (not a threshold): how many calls were redeliveries the sink absorbed.
    const calls = readFileSync(join(fx.dir, 'calls.log'), 'utf8').split('\n').filter(Boolean);
    expect(new Set(calls).size).toBe(ORDERS);
    console.log(`origin crash: ${calls.length} handler calls for ${ORDERS} orders, ${KILLS} kills`);
  });
});
