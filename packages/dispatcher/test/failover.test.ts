import { startCluster, type Cluster } from '@koyo/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, KoyoDispatcherError } from '../src/index.js';
import { lsn, openDb, uniqueName, waitFor, type Db } from './helpers.js';

// A dispatcher with a failover slot (PostgreSQL 17+) and a connection naming both hosts survives
// a real failover: the primary is SIGKILLed while rows are written, the standby (which had the
// slot synchronised) is promoted, and the dispatcher goes on from the new primary by itself.

interface Row {
  id: number;
}

describe('failover: true before PostgreSQL 17', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb('failover_old');
    await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await db.close();
  });

  it('is UNSUPPORTED, saying what the version can do instead, and creates nothing', async (context) => {
    const [row] = await db.query<{ v: number }>(
      "SELECT current_setting('server_version_num')::int AS v",
    );
    if (row!.v >= 170_000) context.skip(); // the shared cluster is 17+: covered below
    const slot = uniqueName('slot');
    const dispatcher = createDispatcher({
      connection: db.url,
      slot,
      publication: uniqueName('pub'),
      tables: ['items'],
      failover: true,
      logger: false,
    });
    const error: unknown = await dispatcher.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KoyoDispatcherError);
    expect(error).toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('backfill'),
    });
    const slots = await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    expect(slots).toHaveLength(0);
  });
});

// Own 17 and 18 clusters: run once, in the embedded project, not again beside the machine's.
const ownClusters = process.env.KOYO_TEST_POSTGRES !== 'system';

for (const major of ['17', '18'] as const) {
  describe.skipIf(!ownClusters)(`failover on PostgreSQL ${major}`, () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ postgres: major, replicas: 1, slotSync: true });
    }, 180_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('a dispatcher on a failover slot and both hosts continues on the promoted standby; every committed row is delivered at least once, in order', async () => {
      const [primary, standby] = [cluster.primary, cluster.replicas[0]!];
      await primary.query('CREATE TABLE events (id int PRIMARY KEY)');
      // The standby first: the dispatcher must find the writable host itself. Both forms of a
      // multi-host connection: a libpq-style URL on 17, { hosts } on 18.
      const connection =
        major === '17'
          ? `postgres://postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres`
          : {
              user: 'postgres',
              database: 'postgres',
              hosts: [`127.0.0.1:${standby.port}`, { host: '127.0.0.1', port: primary.port }],
            };
      const handled: number[] = [];
      let killedAt = 0;
      let reconnectsAtKill = 0;
      let firstFromNewPrimaryMs: number | null = null;
      const dispatcher = createDispatcher({
        connection,
        slot: 'fo_slot',
        publication: 'fo_pub',
        tables: ['events'],
        failover: true,
        logger: false,
        statusIntervalMs: 200,
      });
      dispatcher.onTable<Row>('events', (change) => {
        if (change.kind !== 'insert') return;
        handled.push(change.new.id);
        if (killedAt > 0 && firstFromNewPrimaryMs === null) {
          if (dispatcher.stats().reconnects > reconnectsAtKill)
            firstFromNewPrimaryMs = Date.now() - killedAt;
        }
      });
      await dispatcher.start();

      const [created] = await primary.query<{ failover: boolean }>(
        "SELECT failover FROM pg_replication_slots WHERE slot_name = 'fo_slot'",
      );
      expect(created!.failover).toBe(true);

      // A writer on the primary, one row per transaction, until the primary dies.
      let next = 1;
      const writer = new pg.Client({ connectionString: primary.url });
      writer.on('error', () => undefined);
      await writer.connect();
      const writing = (async () => {
        for (;;) {
          try {
            await writer.query('INSERT INTO events VALUES ($1)', [next]);
          } catch {
            return; // the primary was killed: this row's outcome is unknown, the server says
          }
          next++;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();

      await waitFor(() => handled.length >= 300, 'changes handled on the first primary');
      // The slot is synchronised to the standby and has caught up with what was confirmed.
      const [confirmedRow] = await primary.query<{ lsn: string }>(
        "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'fo_slot'",
      );
      await waitFor(
        async () => {
          // The slot's restart_lsn moves at running-xacts records (every 15 s by default): log
          // one now, so the standby can make its copy persistent sooner.
          await primary.query('SELECT pg_log_standby_snapshot()');
          const [row] = await standby.query<{
            synced: boolean;
            temporary: boolean;
            lsn: string | null;
          }>(
            "SELECT synced, temporary, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'fo_slot'",
          );
          return (
            !!row &&
            row.synced &&
            !row.temporary &&
            row.lsn !== null &&
            lsn(row.lsn) >= lsn(confirmedRow!.lsn)
          );
        },
        'the failover slot synchronised to the standby',
        120_000,
        100,
      );

      // Failover: the primary dies mid-write, the standby is promoted.
      reconnectsAtKill = dispatcher.stats().reconnects;
      killedAt = Date.now();
      await primary.kill();
      await writing;
      await writer.end().catch(() => undefined);
      await standby.promote();
      const promotedAt = Date.now() - killedAt;

      // Writes go on, on the new primary.
      const after = new pg.Client({ connectionString: standby.url });
      await after.connect();
      const firstAfter = next + 1;
      for (let id = firstAfter; id < firstAfter + 200; id++)
        await after.query('INSERT INTO events VALUES ($1)', [id]);
      await after.end();

      // Server truth: the rows the new primary has.
      const present = (
        await standby.query<{ id: number }>('SELECT id FROM events ORDER BY id')
      ).map((r) => r.id);
      expect(present.length).toBeGreaterThanOrEqual(500);
      await waitFor(
        () => {
          const seen = new Set(handled);
          return present.every((id) => seen.has(id));
        },
        'every row of the new primary handled',
        120_000,
        50,
      );
      expect(dispatcher.stats()).toMatchObject({ state: 'running', error: null });
      // dispatcher.db follows too: its session is on the promoted node.
      const { rows: dbRows } = await dispatcher.db.query<{ port: number; recovering: boolean }>(
        'SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovering',
      );
      expect(dbRows[0]).toEqual({ port: standby.port, recovering: false });
      expect(dispatcher.stats().reconnects).toBeGreaterThan(reconnectsAtKill);

      // At least once and in order: the first delivery of each row follows commit order, and
      // nothing was delivered that the new primary does not have (a lost write never surfaces).
      const firstSeen: number[] = [];
      const seen = new Set<number>();
      for (const id of handled) {
        if (seen.has(id)) continue;
        seen.add(id);
        firstSeen.push(id);
      }
      expect(firstSeen).toEqual(present);
      await dispatcher.stop();

      console.log(
        `[failover PG${major}] rows=${present.length} handled=${handled.length} (redelivered ${handled.length - present.length}) ` +
          `kill->promoted=${promotedAt}ms kill->first change from the new primary=${String(firstFromNewPrimaryMs)}ms`,
      );
    }, 300_000);
  });
}
