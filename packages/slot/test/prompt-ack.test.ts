import { describe, expect, it } from 'vitest';
import { openReplicationStream } from '../src/index.js';
import { Collector, confirmedFlush, sql, waitFor, streamTest } from './_helpers.js';

/** Far longer than the budgets below: only the prompt acknowledgement path can pass them. */
const STATUS_INTERVAL_MS = 60_000;
/** How long the server may take to see an acknowledgement; well under STATUS_INTERVAL_MS. */
const BUDGET_MS = 15_000;

describe('acknowledgements reach the server promptly, not only with the periodic status update', () => {
  const t = streamTest('slot_prompt_ack', 'prompt_pub', [
    'CREATE TABLE items (id int PRIMARY KEY)',
  ]);

  it('confirmed_flush_lsn reaches each acknowledged commit long before statusIntervalMs', async () => {
    await t.manager.ensureSlot('prompt_ack');
    const s = openReplicationStream({
      connection: t.db.url,
      slot: 'prompt_ack',
      publications: ['prompt_pub'],
      // wal_sender_timeout (60 s by default) caps it at 30 s: still twice the budget.
      statusIntervalMs: STATUS_INTERVAL_MS,
    });
    t.open.push(s);
    const c = new Collector(s);
    await s.ready();
    for (let round = 1; round <= 3; round++) {
      await sql(t.db.url, 'INSERT INTO items VALUES ($1)', [round]);
      const commit = await waitFor(`commit ${round}`, () => c.of('commit')[round - 1]);
      s.acknowledge(commit.endLsn);
      // At or past it: once nothing is unacknowledged the stream may also confirm idle WAL that
      // other databases of the shared test cluster wrote after the commit.
      await waitFor(
        `confirmed_flush_lsn at commit ${round}`,
        async () => (await confirmedFlush(t.db.url, 'prompt_ack')) >= commit.endLsn,
        BUDGET_MS,
      );
    }
    expect(s.statusIntervalMs).toBeGreaterThan(BUDGET_MS);
    await s.stop();
    await c.done;
    expect(c.error).toBeUndefined();
  });

  it('rejects an ackDelayMs below 1 ms', () => {
    for (const ackDelayMs of [0, -5, Number.NaN]) {
      expect(() =>
        openReplicationStream({
          connection: t.db.url,
          slot: 'prompt_ack',
          publications: ['prompt_pub'],
          ackDelayMs,
        }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    }
  });
});
