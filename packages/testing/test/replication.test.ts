import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../src/index.js';

describe('startCluster: replication, replay control, crash and promotion', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ replicas: 2 });
    await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
  });
  afterAll(async () => {
    await cluster.stop();
  });

  const count = async (node: Cluster['primary']): Promise<number> =>
    (await node.query<{ n: number }>('SELECT count(*)::int AS n FROM items'))[0]!.n;

  it('streams a row written on the primary to both replicas', async () => {
    await cluster.primary.query("INSERT INTO items VALUES (1, 'one')");
    await cluster.syncReplicas();
    for (const replica of cluster.replicas) {
      expect(
        await replica.query(
          'SELECT note, pg_is_in_recovery() AS recovering FROM items WHERE id = 1',
        ),
      ).toEqual([{ note: 'one', recovering: true }]);
    }
  });

  it('pauseReplay holds a replica back until resumeReplay', async () => {
    const [paused, other] = cluster.replicas as [Cluster['primary'], Cluster['primary']];
    await paused.pauseReplay();
    const before = await count(paused);
    await cluster.primary.query("INSERT INTO items VALUES (2, 'two')");
    await cluster.syncReplicas();
    expect(await count(other)).toBe(before + 1);
    expect(await count(paused)).toBe(before);
    expect((await paused.query('SELECT pg_is_wal_replay_paused() AS p'))[0]).toEqual({ p: true });
    await paused.resumeReplay();
    await cluster.syncReplicas();
    expect(await count(paused)).toBe(before + 1);
  });

  it('kill crashes the primary and start recovers every committed row', async () => {
    await cluster.primary.query(
      "INSERT INTO items SELECT g, 'bulk' FROM generate_series(100, 199) g",
    );
    const pid = cluster.primary.pid;
    expect(pid).toBeGreaterThan(0);
    await cluster.primary.kill();
    expect(cluster.primary.pid).toBeUndefined();
    await expect(cluster.primary.query('SELECT 1')).rejects.toThrow();
    await cluster.primary.start();
    expect(cluster.primary.pid).not.toBe(pid);
    expect(await count(cluster.primary)).toBe(102);
    // replicas reconnect by themselves and keep streaming
    await cluster.primary.query("INSERT INTO items VALUES (3, 'after crash')");
    await cluster.syncReplicas();
    for (const replica of cluster.replicas) expect(await count(replica)).toBe(103);
  });

  it('restart stops and starts a replica, which catches up', async () => {
    const replica = cluster.replicas[1]!;
    await replica.stop();
    expect(replica.pid).toBeUndefined();
    await cluster.primary.query("INSERT INTO items VALUES (4, 'while down')");
    await replica.start();
    await cluster.syncReplicas();
    expect(await count(replica)).toBe(await count(cluster.primary));
    await replica.restart();
    expect(await count(replica)).toBe(await count(cluster.primary));
  });

  it('promote turns a replica into a writable primary', async () => {
    const replica = cluster.replicas[0]!;
    await expect(replica.query("INSERT INTO items VALUES (5, 'no')")).rejects.toMatchObject({
      code: '25006',
    });
    await replica.promote();
    expect(replica.role).toBe('primary');
    expect(await replica.query('SELECT pg_is_in_recovery() AS r')).toEqual([{ r: false }]);
    await replica.query("INSERT INTO items VALUES (5, 'yes')");
    expect(await replica.query('SELECT note FROM items WHERE id = 5')).toEqual([{ note: 'yes' }]);
    await expect(replica.pauseReplay()).rejects.toMatchObject({ code: 'NOT_A_REPLICA' });
  });
});
