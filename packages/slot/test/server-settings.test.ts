import { startCluster } from '@koyo/testing';
import { describe, expect, it } from 'vitest';
import { createSlotManager, diagnose, KoyoSlotError, openReplicationStream } from '../src/index.js';
import { Collector, ownCluster, replicaLevelCluster, sql, waitFor } from './_helpers.js';

/** A stream on `slot` that retries quickly: its refusal shows in `ready()` without a long wait. */
function quickRetryStream(url: string, slot: string, publication: string) {
  return openReplicationStream({
    connection: url,
    slot,
    publications: [publication],
    reconnect: { initialDelayMs: 10 },
  });
}

/** Inserts a row with a random key and ends the WAL segment: 16 MB more WAL for slots to keep. */
async function insertAndSwitchWal(url: string): Promise<void> {
  await sql(
    url,
    'INSERT INTO items VALUES ($1) ON CONFLICT DO NOTHING; SELECT pg_switch_wal();'.replace(
      '$1',
      String(Math.floor(Math.random() * 1e9)),
    ),
  );
}

describe('wal_level = replica', () => {
  const cluster = ownCluster(replicaLevelCluster);

  it('ensureSlot, a stream and diagnose all say WAL_LEVEL and how to fix it', async () => {
    const url = cluster.primary.url;
    const manager = createSlotManager(url);
    const error = await manager.ensureSlot('wl_slot').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KoyoSlotError);
    expect(error).toMatchObject({ code: 'WAL_LEVEL', sqlState: '55000' });
    expect((error as Error).message).toMatch(/ALTER SYSTEM SET wal_level = logical/);

    const stream = quickRetryStream(url, 'wl_slot', 'wl_pub');
    await expect(stream.ready()).rejects.toMatchObject({ code: 'WAL_LEVEL' });
    const c = new Collector(stream);
    await c.done;
    expect(c.error).toMatchObject({ code: 'WAL_LEVEL' });

    const checks = await manager.diagnose({ slot: 'wl_slot', publication: 'wl_pub' });
    const walLevel = checks.find((check) => check.id === 'wal_level');
    expect(walLevel).toMatchObject({
      ok: false,
      severity: 'error',
      fix: 'ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL',
    });
    await manager.close();
  });
});

describe('an invalidated slot (max_slot_wal_keep_size exceeded)', () => {
  const cluster = ownCluster(async () => {
    const started = await startCluster({
      replicas: 0,
      settings: {
        max_slot_wal_keep_size: '32MB',
        wal_keep_size: 0,
        min_wal_size: '32MB',
        max_wal_size: '1GB',
      },
    });
    await sql(started.primary.url, 'CREATE TABLE items (id int PRIMARY KEY)');
    return started;
  });

  it('is a typed, non-retried error for streams and ensureSlot, and diagnose shows it with a fix', async () => {
    const url = cluster.primary.url;
    const manager = createSlotManager(url);
    await manager.ensurePublication('inv_pub', { tables: ['items'] });
    await manager.ensureSlot('inv_slot');
    const healthy = await manager.getSlot('inv_slot');
    expect(healthy!.safeWalSize).toBeGreaterThan(0);

    await waitFor(
      'the slot to lose its WAL',
      async () => {
        for (let i = 0; i < 4; i++) await insertAndSwitchWal(url);
        await sql(url, 'CHECKPOINT');
        return (await manager.getSlot('inv_slot'))?.walStatus === 'lost';
      },
      60_000,
      0,
    );
    const lost = await manager.getSlot('inv_slot');
    expect(lost).toMatchObject({ invalidated: true, invalidationReason: 'wal_removed' });

    await expect(manager.ensureSlot('inv_slot')).rejects.toMatchObject({
      code: 'SLOT_INVALIDATED',
    });
    const stream = quickRetryStream(url, 'inv_slot', 'inv_pub');
    await expect(stream.ready()).rejects.toMatchObject({ code: 'SLOT_INVALIDATED' });
    await stream.stop();

    const checks = await diagnose(url, { slot: 'inv_slot' });
    const check = checks.find((c) => c.id === 'slot_invalidated');
    expect(check).toMatchObject({ ok: false, severity: 'error' });
    expect(check!.fix).toMatch(/pg_drop_replication_slot\('inv_slot'\)/);
    // Still there: koyo never drops or recreates it by itself.
    expect(await manager.getSlot('inv_slot')).toMatchObject({
      name: 'inv_slot',
      invalidated: true,
    });
    await manager.close();
  });

  it('diagnose warns when a slot is close to max_slot_wal_keep_size', async () => {
    const url = cluster.primary.url;
    const manager = createSlotManager(url);
    await manager.ensureSlot('lag_slot');
    await waitFor(
      'the slot to near the limit',
      async () => {
        // No checkpoint runs meanwhile, so nothing is invalidated yet.
        await insertAndSwitchWal(url);
        const checks = await manager.diagnose({ slot: 'lag_slot' });
        return checks.find((c) => c.id === 'slot_lag' && !c.ok);
      },
      30_000,
      0,
    ).then((check) => {
      expect(check).toMatchObject({ severity: 'warning' });
      expect(check.fix).toMatch(/max_slot_wal_keep_size/);
    });
    await manager.close();
  });
});
