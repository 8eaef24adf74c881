import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from './logger.js';
import {
  StandbyFeedback,
  type FeedbackLink,
  type FeedbackStart,
  type StandbyFeedbackOptions,
} from './standby-feedback.js';

/** A standby status update ('r'), as the bytes on the wire say. */
interface Update {
  written: bigint;
  flushed: bigint;
  applied: bigint;
  replyRequested: boolean;
}

function link(paused = false) {
  const updates: Update[] = [];
  const dropped: Error[] = [];
  const state = { paused };
  const target: FeedbackLink = {
    send: (chunk) => {
      const b = Buffer.from(chunk);
      expect(String.fromCharCode(b[0]!)).toBe('r');
      updates.push({
        written: b.readBigUInt64BE(1),
        flushed: b.readBigUInt64BE(9),
        applied: b.readBigUInt64BE(17),
        replyRequested: b[33] === 1,
      });
    },
    paused: () => state.paused,
    drop: (error) => dropped.push(error),
  };
  return { target, updates, dropped, state };
}

/** The update that reports `flushed` as flushed and applied. */
function update(written: bigint, flushed = written, replyRequested = false): Update {
  return { written, flushed, applied: flushed, replyRequested };
}

const start = { walSenderTimeoutMs: 60_000, confirmedFlushLsn: 0x100n };

/** A StandbyFeedback (ackDelayMs 100 unless `options` say otherwise) attached to a fresh link at `at`. */
function attached(options: Partial<StandbyFeedbackOptions> = {}, at: FeedbackStart = start) {
  const feedback = new StandbyFeedback({ ackDelayMs: 100, logger: silentLogger, ...options });
  const wire = link();
  feedback.attach(wire.target, at);
  return { feedback, ...wire };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('StandbyFeedback', () => {
  it('sends nothing while detached; an acknowledgement made meanwhile is sent soon after attach', () => {
    const feedback = new StandbyFeedback({ ackDelayMs: 100, logger: silentLogger });
    feedback.acknowledge(0x200n);
    feedback.send();
    const { target, updates } = link();
    feedback.attach(target, start);
    expect(updates).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(updates).toEqual([update(0x200n)]);
  });

  it('takes the slot position when it is ahead, and ignores lower acknowledgements', () => {
    const { feedback, updates } = attached();
    expect(feedback.flushed).toBe(0x100n);
    feedback.acknowledge(0x80n);
    vi.advanceTimersByTime(1_000);
    expect(updates).toEqual([]);
  });

  it('coalesces acknowledgements within ackDelayMs into one update of the highest position', () => {
    const { feedback, updates } = attached();
    feedback.received(0x400n);
    feedback.acknowledge(0x200n);
    vi.advanceTimersByTime(50);
    feedback.acknowledge(0x300n);
    vi.advanceTimersByTime(50);
    expect(updates).toEqual([update(0x400n, 0x300n)]);
  });

  it('with ackDelayMs Infinity sends only periodically, at most every half wal_sender_timeout', () => {
    const { feedback, updates } = attached(
      { statusIntervalMs: 60_000, ackDelayMs: Number.POSITIVE_INFINITY },
      { walSenderTimeoutMs: 10_000, confirmedFlushLsn: 0n },
    );
    expect(feedback.statusIntervalMs).toBe(5_000);
    feedback.acknowledge(0x10n);
    vi.advanceTimersByTime(4_999);
    expect(updates).toEqual([]);
    vi.advanceTimersByTime(1);
    // Silent for a whole interval: the update asks the server for a keepalive.
    expect(updates).toEqual([update(0x10n, 0x10n, true)]);
  });

  it('reports an idle keepalive position once everything before it is acknowledged, not inside a transaction', () => {
    const { feedback, updates } = attached();
    feedback.received(0x200n);
    feedback.keepalive(0x900n, false, true); // 0x200 not acknowledged yet
    feedback.acknowledge(0x200n);
    feedback.keepalive(0x950n, true, true); // a transaction is open
    feedback.keepalive(0x999n, false, true); // idle, everything acknowledged
    expect(updates.map((u) => u.flushed)).toEqual([0x100n, 0x200n, 0x999n]);
    expect(feedback.flushed).toBe(0x999n);
  });

  it('drops a connection whose server stays silent, unless reading is paused', () => {
    const feedback = new StandbyFeedback({
      statusIntervalMs: 1_000,
      ackDelayMs: 100,
      logger: silentLogger,
    });
    const paused = link(true);
    feedback.attach(paused.target, { walSenderTimeoutMs: 0, confirmedFlushLsn: 0n });
    vi.advanceTimersByTime(120_000);
    expect(paused.dropped).toEqual([]);
    expect(paused.updates.every((u) => !u.replyRequested)).toBe(true);
    feedback.detach();

    const silent = link();
    feedback.attach(silent.target, { walSenderTimeoutMs: 0, confirmedFlushLsn: 0n });
    vi.advanceTimersByTime(29_000);
    feedback.touch(); // something arrived: the silence starts again
    vi.advanceTimersByTime(30_000);
    expect(silent.dropped).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(silent.dropped).toHaveLength(1);
    expect(silent.dropped[0]!.message).toContain('30000 ms');
  });

  it('sends nothing after detach', () => {
    const { feedback, updates } = attached();
    feedback.acknowledge(0x200n);
    feedback.detach();
    feedback.send();
    vi.advanceTimersByTime(60_000);
    expect(updates).toEqual([]);
  });
});
