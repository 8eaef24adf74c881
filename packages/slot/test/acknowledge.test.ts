import { testCluster } from '@koyo/testing/vitest';
import { describe, expect, it } from 'vitest';
import { KoyoSlotError, openReplicationStream, type ReplicationStream } from '../src/index.js';
import { Collector, confirmedFlush, sleep, slotRow, sql, waitFor, streamTest } from './_helpers.js';

describe('acknowledgement: only acknowledged positions are ever confirmed', () => {
  const t = streamTest(
    'slot_ack',
    'ack_pub',
    [
      'CREATE TABLE items (id int PRIMARY KEY, note text)',
      'CREATE TABLE noise (id bigserial PRIMARY KEY, payload text)',
    ],
    { statusIntervalMs: 100 },
  );
  const stream = (slot: string, statusIntervalMs = 100): ReplicationStream =>
    t.stream(slot, { statusIntervalMs });

  it('does not confirm 5 received but unacknowledged inserts, even while keepalives flow, and redelivers them', async () => {
    await t.manager.ensureSlot('ack_unacked');
    const before = await confirmedFlush(t.db.url, 'ack_unacked');
    await sql(t.db.url, "INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 5) g");

    const first = stream('ack_unacked');
    const c1 = new Collector(first);
    await waitFor('5 inserts', () => c1.inserted().length === 5);
    // Busy WAL elsewhere makes the server send keepalives; status updates go out every 100 ms.
    for (let i = 0; i < 10; i++) {
      await sql(
        t.db.url,
        "INSERT INTO noise (payload) SELECT repeat('x', 100) FROM generate_series(1, 200)",
      );
      await sleep(100);
    }
    expect(first.flushedLsn).toBe(before);
    expect(await confirmedFlush(t.db.url, 'ack_unacked')).toBe(before);
    await first.stop();
    await c1.done;
    expect(await confirmedFlush(t.db.url, 'ack_unacked')).toBe(before);

    const second = stream('ack_unacked');
    const c2 = new Collector(second);
    await waitFor('redelivery', () => c2.inserted().length === 5);
    expect(c2.inserted()).toEqual([1, 2, 3, 4, 5]);
    expect(c2.of('commit')[0]!.endLsn).toBe(c1.of('commit')[0]!.endLsn);
    await second.stop();
    await c2.done;
  });

  it('confirms exactly the acknowledged commit end (never +1) and never redelivers it', async () => {
    await t.manager.ensureSlot('ack_acked');
    await sql(t.db.url, "INSERT INTO items VALUES (101, 'a')");
    await sql(t.db.url, "INSERT INTO items VALUES (102, 'b')");

    const first = stream('ack_acked');
    const c1 = new Collector(first);
    await waitFor('two commits', () => c1.of('commit').length === 2);
    const [commitA, commitB] = c1.of('commit');
    // Acknowledge the first transaction only.
    first.acknowledge(commitA!.endLsn);
    await waitFor(
      'confirmed_flush_lsn at the first commit',
      async () => (await confirmedFlush(t.db.url, 'ack_acked')) === commitA!.endLsn,
    );
    await sleep(500);
    expect(await confirmedFlush(t.db.url, 'ack_acked')).toBe(commitA!.endLsn);
    await first.stop();
    await c1.done;
    expect(await confirmedFlush(t.db.url, 'ack_acked')).toBe(commitA!.endLsn);

    const second = stream('ack_acked');
    const c2 = new Collector(second);
    await waitFor('the second transaction again', () => c2.of('commit').length === 1);
    expect(c2.inserted()).toEqual([102]);
    expect(c2.of('commit')[0]!.endLsn).toBe(commitB!.endLsn);
    second.acknowledge(commitB!.endLsn);
    await second.stop();
    await c2.done;
    // Everything received is acknowledged now, so a keepalive that came meanwhile may have let the
    // stream confirm the server's sent position past it (WAL with nothing for this slot, such as
    // another database's writes): at least the commit end, never the commit end + 1, and the next
    // stream gets only what came after (below).
    const confirmed = await confirmedFlush(t.db.url, 'ack_acked');
    expect(confirmed).toBeGreaterThanOrEqual(commitB!.endLsn);
    expect(confirmed).not.toBe(commitB!.endLsn + 1n);

    await sql(t.db.url, "INSERT INTO items VALUES (103, 'c')");
    const third = stream('ack_acked');
    const c3 = new Collector(third);
    await waitFor('the new transaction', () => c3.of('commit').length === 1);
    await sleep(300);
    expect(c3.inserted()).toEqual([103]);
    await third.stop();
    await c3.done;
  });

  it('refuses to acknowledge a position it has not delivered', async () => {
    await t.manager.ensureSlot('ack_guard');
    const s = stream('ack_guard', 1000);
    await s.ready();
    expect(() => s.acknowledge(s.deliveredLsn + 1n)).toThrow(KoyoSlotError);
    expect(() => s.acknowledge(s.deliveredLsn + 1n)).toThrow(
      expect.objectContaining({ code: 'INVALID_ACK' }),
    );
    expect(() => s.acknowledge(5 as unknown as bigint)).toThrow(
      expect.objectContaining({ code: 'INVALID_ACK' }),
    );
    // Positions in messages are in PostgreSQL's X/Y form, as everywhere else.
    expect(() => s.acknowledge(s.deliveredLsn + 1n)).toThrow(
      /^acknowledge\([0-9A-F]+\/[0-9A-F]+\) is beyond .* \([0-9A-F]+\/[0-9A-F]+\)/,
    );
    await s.stop();
  });

  it('logs the start position in X/Y form', async () => {
    await t.manager.ensureSlot('ack_logged');
    const lines: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const keep = (obj: object, msg?: string): void =>
      void lines.push({ obj: obj as Record<string, unknown>, msg });
    const s = openReplicationStream({
      connection: t.db.url,
      slot: 'ack_logged',
      publications: ['ack_pub'],
      logger: { debug: keep, info: keep, warn: keep, error: keep },
    });
    await s.ready();
    await s.stop();
    const started = lines.find((line) => line.msg === 'replication stream started');
    expect(started?.obj.startLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('idle WAL: a quiet publication on a busy database advances confirmed_flush_lsn', async () => {
    await t.manager.ensureSlot('ack_idle');
    const start = await confirmedFlush(t.db.url, 'ack_idle');
    const s = stream('ack_idle');
    // PostgreSQL 14's pgoutput still sends an empty BEGIN/COMMIT for every transaction (15+ skips
    // them): there the consumer moves the slot by acknowledging those, as the dispatcher does.
    const emptyTransactions = testCluster().major < 15;
    const c = new Collector(s, (event) => {
      if (emptyTransactions && event.message.tag === 'commit') s.acknowledge(event.message.endLsn);
    });
    await s.ready();
    await waitFor(
      'confirmed_flush_lsn to advance past WAL written to another table',
      async () => {
        await sql(
          t.db.url,
          "INSERT INTO noise (payload) SELECT repeat('y', 200) FROM generate_series(1, 500)",
        );
        return (await confirmedFlush(t.db.url, 'ack_idle')) > start + 100_000n;
      },
      60_000,
      200,
    );
    if (emptyTransactions)
      expect(new Set(c.messages().map((m) => m.tag))).toEqual(new Set(['begin', 'commit']));
    else expect(c.messages()).toEqual([]);
    expect(s.flushedLsn).toBeGreaterThan(start);
    await s.stop();
    await c.done;
    expect(c.error).toBeUndefined();
  });

  it('streams a large in-progress transaction (streaming: true) with the auto protocol, acknowledges its stream commit, and stops on abort', async () => {
    await t.manager.ensureSlot('ack_streaming');
    const controller = new AbortController();
    const s = openReplicationStream({
      // A pg ClientConfig works as well as a URL; the tiny work_mem makes the server stream the transaction before it commits.
      connection: { connectionString: t.db.url, options: '-c logical_decoding_work_mem=64kB' },
      slot: 'ack_streaming',
      publications: ['ack_pub'],
      streaming: true,
      statusIntervalMs: 100,
      signal: controller.signal,
    });
    t.open.push(s);
    const c = new Collector(s, (event) => {
      if (event.message.tag === 'stream_commit') s.acknowledge(event.message.endLsn);
    });
    await s.ready();
    expect(s.protocolVersion).toBe(
      testCluster().major >= 16 ? 4 : testCluster().major >= 15 ? 3 : 2,
    );
    await sql(
      t.db.url,
      "INSERT INTO items SELECT g, repeat('z', 100) FROM generate_series(10001, 15000) g",
    );
    const commit = await waitFor('the stream commit', () => c.of('stream_commit')[0]);
    expect(c.of('stream_start').length).toBeGreaterThan(1);
    expect(c.of('begin')).toEqual([]);
    expect(c.inserted()).toHaveLength(5000);
    expect(c.of('insert').every((m) => m.xid === commit.xid)).toBe(true);
    await waitFor(
      'confirmed_flush_lsn at the stream commit',
      async () => (await confirmedFlush(t.db.url, 'ack_streaming')) >= commit.endLsn,
    );
    controller.abort();
    await c.done;
    expect(c.error).toBeUndefined();
    await waitFor(
      'the slot to be released',
      async () => (await slotRow(t.db.url, 'ack_streaming'))?.activePid === null,
    );
  });
});
