import { startCluster, type Cluster } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWritable, createSlotManager, openReplicationStream } from '../src/index.js';
import { Collector, sql, waitFor } from './_helpers.js';

// A connection naming several hosts (libpq style) goes to the writable one, and follows it when
// a standby is promoted; two writable hosts are refused, never guessed.
describe('multi-host connections', () => {
  let cluster: Cluster;
  let both: string;
  beforeAll(async () => {
    cluster = await startCluster({ replicas: 1 });
    const [primary, replica] = [cluster.primary, cluster.replicas[0]!];
    // The standby first: koyo must skip it because it is in recovery.
    both = `postgres://postgres@127.0.0.1:${replica.port},127.0.0.1:${primary.port}/postgres`;
    await sql(primary.url, 'CREATE TABLE items (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('connects to the host that is not in recovery, for both URL and { hosts } forms', async () => {
    const viaUrl = await connectWritable(both);
    const viaHosts = await connectWritable({
      user: 'postgres',
      database: 'postgres',
      hosts: [
        `127.0.0.1:${cluster.replicas[0]!.port}`,
        { host: '127.0.0.1', port: cluster.primary.port },
      ],
    });
    try {
      for (const client of [viaUrl, viaHosts]) {
        const { rows } = await client.query<{ recovering: boolean }>(
          'SELECT pg_is_in_recovery() AS recovering',
        );
        expect(rows[0]!.recovering).toBe(false);
        expect(client.port).toBe(cluster.primary.port);
      }
    } finally {
      await viaUrl.end();
      await viaHosts.end();
    }
  });

  it('no writable host is CONNECTION_FAILED naming each host; a malformed host list is INVALID_OPTION', async () => {
    const standbyOnly = `postgres://postgres@127.0.0.1:${cluster.replicas[0]!.port},127.0.0.1:1/postgres`;
    await expect(connectWritable(standbyOnly)).rejects.toMatchObject({
      code: 'CONNECTION_FAILED',
      message: expect.stringContaining('in recovery'),
    });
    await expect(
      connectWritable('postgres://postgres@127.0.0.1:1,,x/postgres'),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('the manager and the stream use the primary; after a promotion the manager follows and a new stream connects to the new primary', async () => {
    const manager = createSlotManager(both);
    await manager.ensurePublication('mh_pub', { tables: ['items'] });
    await manager.ensureSlot('mh_slot');
    const [onPrimary] = await sql(
      cluster.primary.url,
      "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = 'mh_slot'",
    );
    expect(onPrimary!.n).toBe(1);

    const stream = openReplicationStream({
      connection: both,
      slot: 'mh_slot',
      publications: ['mh_pub'],
      reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 1_000 },
    });
    const collector = new Collector(stream, (event) => {
      if (event.message.tag === 'commit') stream.acknowledge(event.message.endLsn);
    });
    await stream.ready();
    await sql(cluster.primary.url, 'INSERT INTO items VALUES (1)');
    await waitFor('the insert on the first primary', () => collector.inserted().includes(1));

    // Failover: the primary dies, the standby is promoted. The slot is not synchronised here
    // (that needs PostgreSQL 17 failover slots), so it is created on the new primary before a
    // stream with the same multi-host connection starts; the manager follows by itself.
    await stream.stop();
    await collector.done;
    await cluster.syncReplicas();
    await cluster.primary.kill();
    const promoted = cluster.replicas[0]!;
    await promoted.promote();
    await sql(promoted.url, "SELECT pg_create_logical_replication_slot('mh_slot', 'pgoutput')");
    await sql(promoted.url, 'INSERT INTO items VALUES (2)');
    expect((await manager.listSlots()).map((slot) => slot.name)).toContain('mh_slot');
    const next = openReplicationStream({
      connection: both,
      slot: 'mh_slot',
      publications: ['mh_pub'],
    });
    const after = new Collector(next);
    await next.ready();
    await waitFor('the insert on the promoted primary', () => after.inserted().includes(2), 60_000);
    await next.stop();
    await after.done;

    // The old primary comes back writable: two primaries, and koyo refuses to pick one.
    await cluster.primary.start();
    await expect(connectWritable(both)).rejects.toMatchObject({ code: 'SPLIT_BRAIN' });
    await manager.close();
  });
});
