import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KoyoTestingError, startCluster, type Cluster } from '../src/index.js';

// startCluster({ slotSync: true }): the set-up PostgreSQL 17+ needs to synchronise failover slots
// to a standby, checked on the servers themselves; refused before 17.

describe('startCluster({ slotSync: true })', () => {
  it('is UNSUPPORTED before PostgreSQL 17 and needs a replica', async () => {
    const old = await startCluster({ postgres: '16', replicas: 1, slotSync: true }).catch(
      (e: unknown) => e,
    );
    expect(old).toBeInstanceOf(KoyoTestingError);
    expect(old).toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining("postgres: '17'"),
    });
    await expect(
      startCluster({ postgres: '17', replicas: 0, slotSync: true }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  describe.skipIf(process.env.KOYO_TEST_POSTGRES === 'system')('on PostgreSQL 17', () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ postgres: '17', replicas: 1, slotSync: true });
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('configures the standby and the primary, and a failover slot is synchronised to the standby', async () => {
      const standby = cluster.replicas[0]!;
      const [settings] = await standby.query(
        `SELECT current_setting('sync_replication_slots') AS sync, current_setting('hot_standby_feedback') AS feedback,
                current_setting('primary_slot_name') AS slot, current_setting('primary_conninfo') AS conninfo`,
      );
      expect(settings).toMatchObject({
        sync: 'on',
        feedback: 'on',
        slot: 'koyo_testing_replica1',
        conninfo: expect.stringMatching(/dbname=postgres/),
      });
      const [primary] = await cluster.primary.query(
        "SELECT current_setting('synchronized_standby_slots') AS standby_slots, (SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = 'koyo_testing_replica1' AND active) AS active",
      );
      expect(primary).toEqual({ standby_slots: 'koyo_testing_replica1', active: 1 });

      await cluster.primary.query(
        "SELECT pg_create_logical_replication_slot('sync_me', 'pgoutput', false, false, true)",
      );
      const deadline = Date.now() + 90_000;
      for (;;) {
        await cluster.primary.query('SELECT pg_logical_emit_message(false, $1, $2)', [
          'koyo',
          'tick',
        ]);
        const [row] = await standby.query(
          "SELECT synced, temporary FROM pg_replication_slots WHERE slot_name = 'sync_me'",
        );
        if (row?.synced && !row.temporary) break;
        if (Date.now() > deadline) throw new Error(`slot not synchronised: ${JSON.stringify(row)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }, 120_000);
  });
});
