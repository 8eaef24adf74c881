import { startCluster, type Cluster } from '@koyo/testing';
import { testCluster } from '@koyo/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlotManager, diagnose, type DiagnosticCheck } from '../src/index.js';
import { sql, waitFor } from './_helpers.js';

// diagnose({ failover: true }) checks what PostgreSQL 17+ needs to keep a slot across a failover,
// on the primary and on each standby, and each failed check carries a fix that works: applied
// as printed, the check passes. Slot safety: unlimited max_slot_wal_keep_size and inactive slots.

const byId = (checks: DiagnosticCheck[], id: string): DiagnosticCheck => {
  const check = checks.find((c) => c.id === id);
  if (!check) throw new Error(`no check ${id} in ${checks.map((c) => c.id).join(', ')}`);
  return check;
};
/** The statement of a fix, without its trailing `-- where` comment. */
const statement = (fix: string | null): string => fix!.split(' -- ')[0]!;

describe('failover checks before PostgreSQL 17', () => {
  it('fail with what the version can do instead', async (context) => {
    const shared = testCluster();
    if (shared.major >= 17) context.skip();
    const checks = await diagnose(shared.primary.url, { failover: true });
    expect(byId(checks, 'failover')).toMatchObject({
      ok: false,
      severity: 'error',
      fix: expect.stringMatching(/backfill/),
    });
  });
});

describe.skipIf(process.env.KOYO_TEST_POSTGRES === 'system')(
  'failover checks on PostgreSQL 17',
  () => {
    let cluster: Cluster;
    let both: string;
    let label: string;
    beforeAll(async () => {
      // A standby with a physical slot but nothing else set up for slot synchronisation.
      cluster = await startCluster({
        postgres: '17',
        replicas: 1,
        settings: { max_slot_wal_keep_size: -1 },
      });
      const standby = cluster.replicas[0]!;
      both = `postgres://postgres@127.0.0.1:${cluster.primary.port},127.0.0.1:${standby.port}/postgres`;
      label = `127.0.0.1:${standby.port}`;
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('names each gap on the primary and the standby with the SQL that fixes it; applied, the checks pass and the slot is synchronised', async () => {
      const manager = createSlotManager(both);
      await manager.ensureSlot('diag_fo');
      const before = await diagnose(both, { slot: 'diag_fo', failover: true });
      const gaps = before.filter((c) => !c.ok).map((c) => c.id);
      expect(gaps).toEqual(
        expect.arrayContaining([
          'failover_slot',
          'synchronized_standby_slots',
          `standby:${label}:sync_replication_slots`,
          `standby:${label}:hot_standby_feedback`,
          `standby:${label}:primary_conninfo`,
          `standby:${label}:slot`,
        ]),
      );
      expect(byId(before, `standby:${label}:primary_slot_name`).ok).toBe(true);
      expect(byId(before, 'synchronized_standby_slots').fix).toContain(
        "synchronized_standby_slots = 'koyo_testing_replica1'",
      );

      // The fixes, as printed.
      const [primary, standby] = [cluster.primary, cluster.replicas[0]!];
      const alter = /'ALTER_REPLICATION_SLOT (\w+) \(FAILOVER true\)'/.exec(
        byId(before, 'failover_slot').fix!,
      );
      const replication = new pg.Client({
        connectionString: primary.url,
        replication: 'database',
      } as pg.ClientConfig);
      await replication.connect();
      await replication.query(`ALTER_REPLICATION_SLOT ${alter![1]} (FAILOVER true)`);
      await replication.end();
      for (const part of statement(byId(before, 'synchronized_standby_slots').fix).split('; '))
        await sql(primary.url, part);
      for (const id of ['sync_replication_slots', 'hot_standby_feedback']) {
        for (const part of statement(byId(before, `standby:${label}:${id}`).fix).split('; '))
          await sql(standby.url, part);
      }
      expect(byId(before, `standby:${label}:primary_conninfo`).fix).toContain('dbname=postgres');
      await sql(
        standby.url,
        `ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres dbname=postgres'`,
      );
      await sql(standby.url, 'SELECT pg_reload_conf()');

      const after = await waitFor(
        'every failover check to pass',
        async () => {
          await sql(primary.url, 'SELECT pg_log_standby_snapshot()'); // moves the slot's restart_lsn now
          const checks = await diagnose(both, { slot: 'diag_fo', failover: true });
          return checks
            .filter(
              (c) =>
                c.id.startsWith('standby:') ||
                c.id.includes('failover') ||
                c.id === 'synchronized_standby_slots',
            )
            .every((c) => c.ok)
            ? checks
            : null;
        },
        90_000,
        500,
      );
      expect(byId(after, `standby:${label}:slot`).message).toMatch(/synchronised/);
      const [synced] = await sql<{ synced: boolean }>(
        standby.url,
        "SELECT synced FROM pg_replication_slots WHERE slot_name = 'diag_fo'",
      );
      expect(synced!.synced).toBe(true);
      await manager.close();
    });

    it('without a standby to check, says how to name one', async () => {
      const checks = await diagnose(cluster.primary.url, { failover: true });
      expect(byId(checks, 'failover_standbys')).toMatchObject({ ok: false, severity: 'warning' });
    });

    it('flags unlimited max_slot_wal_keep_size and inactive slots that keep WAL', async () => {
      const url = cluster.primary.url;
      const manager = createSlotManager(url);
      await manager.ensureSlot('diag_idle');
      await sql(
        url,
        'CREATE TABLE IF NOT EXISTS filler (n int); INSERT INTO filler SELECT generate_series(1, 10000)',
      );
      const checks = await diagnose(url, { inactiveSlotWarningBytes: 1024 });
      expect(byId(checks, 'max_slot_wal_keep_size')).toMatchObject({
        ok: false,
        severity: 'warning',
      });
      const idle = byId(checks, 'inactive_slot:diag_idle');
      expect(idle).toMatchObject({
        ok: false,
        severity: 'warning',
        fix: "Start its consumer, or drop it if it is abandoned: SELECT pg_drop_replication_slot('diag_idle');",
      });

      await sql(url, statement(byId(checks, 'max_slot_wal_keep_size').fix).split('; ')[0]!);
      await sql(url, 'SELECT pg_reload_conf()');
      await sql(url, idle.fix!.split(': ')[1]!);
      const fixed = await diagnose(url, { inactiveSlotWarningBytes: 1024 });
      expect(byId(fixed, 'max_slot_wal_keep_size').ok).toBe(true);
      expect(fixed.some((c) => c.id === 'inactive_slot:diag_idle')).toBe(false);
      await manager.close();
    });
  },
);
