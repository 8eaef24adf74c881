import { describe, expect, it } from 'vitest';
import { openReplicationStream } from '../src/index.js';
import { Collector, confirmedFlush, ownClusterWithSlot, sleep, sql, waitFor } from './_helpers.js';

describe('wal_sender_timeout = 2s and a consumer that takes 6 s per message', () => {
  const cluster = ownClusterWithSlot({
    settings: { wal_sender_timeout: '2s' },
    table: 'CREATE TABLE items (id int PRIMARY KEY)',
    publication: 'slow_pub',
    slot: 'slow_slot',
  });

  it('keeps the connection alive with status updates while the consumer is busy and the socket paused', async () => {
    const url = cluster.primary.url;
    // One transaction: begin, relation, insert, commit = 4 messages = 24 s of consumer time.
    await sql(url, 'INSERT INTO items VALUES (1)');
    // Default statusIntervalMs is 10 s; the stream must cap it at half of wal_sender_timeout.
    // bufferSize 1 byte: the socket is paused after every message, so no keepalive is read meanwhile.
    const stream = openReplicationStream({
      connection: url,
      slot: 'slow_slot',
      publications: ['slow_pub'],
      bufferSize: 1,
    });
    const walsenders: number[] = [];
    const collector = new Collector(stream, async (event) => {
      const [row] = await sql<{ pid: number }>(
        url,
        "SELECT pid FROM pg_stat_replication WHERE application_name = 'koyo'",
      );
      if (row) walsenders.push(row.pid);
      await sleep(6_000);
      if (event.message.tag === 'commit') stream.acknowledge(event.message.endLsn);
    });
    await stream.ready();
    expect(stream.statusIntervalMs).toBe(1_000);
    const commit = await waitFor(
      'the commit to be processed',
      () => collector.of('commit')[0],
      60_000,
      200,
    );
    await waitFor(
      'the acknowledgement to reach the server',
      async () => (await confirmedFlush(url, 'slow_slot')) >= commit.endLsn,
      15_000,
    );

    expect(collector.messages().map((m) => m.tag)).toEqual([
      'begin',
      'relation',
      'insert',
      'commit',
    ]);
    expect(collector.events.filter((e) => e.kind === 'reconnected')).toEqual([]);
    // The same walsender served the whole time: the server never timed us out.
    expect(walsenders).toHaveLength(4);
    expect(new Set(walsenders).size).toBe(1);
    const log = await cluster.primary.logTail(10_000);
    expect(log).not.toMatch(/terminating walsender process due to replication timeout/);
    await stream.stop();
    await collector.done;
    expect(collector.error).toBeUndefined();
  });
});
