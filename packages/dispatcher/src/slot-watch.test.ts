import { describe, expect, it } from 'vitest';
import type { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import { SlotWatch, type SlotHealth } from './slot-watch.js';

const MB = 1024 * 1024;

function watchOver(readings: (SlotHealth | Error)[]): {
  watch: SlotWatch;
  warnings: Record<string, unknown>[];
  failures: KoyoDispatcherError[];
} {
  const warnings: Record<string, unknown>[] = [];
  const failures: KoyoDispatcherError[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (obj) => void warnings.push(obj as Record<string, unknown>),
    error: () => undefined,
  };
  let i = 0;
  const read = (): Promise<SlotHealth | null> => {
    const next = readings[Math.min(i++, readings.length - 1)]!;
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
  const watch = new SlotWatch(read, 'orders', 60_000, 10 * MB, logger, (error) => {
    failures.push(error);
  });
  return { watch, warnings, failures };
}

const reading = (
  retained: number,
  keep: number | null,
  reason: string | null = null,
): SlotHealth => ({
  retainedBytes: retained,
  walStatus: reason ? 'lost' : 'reserved',
  safeWalSize: keep === null ? null : keep - retained,
  keepBytes: keep,
  invalidationReason: reason,
});

describe('SlotWatch', () => {
  it('warns once past 80% of max_slot_wal_keep_size, again only after falling back below', async () => {
    const { watch, warnings } = watchOver([
      reading(70 * MB, 100 * MB),
      reading(81 * MB, 100 * MB),
      reading(90 * MB, 100 * MB),
      new Error('connection lost'),
      reading(10 * MB, 100 * MB),
      reading(85 * MB, 100 * MB),
    ]);
    watch.start();
    for (let n = 0; n < 6; n++) await watch.check(); // the first awaits the reading start() began
    watch.stop();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({
      slot: 'orders',
      retainedWalBytes: 81 * MB,
      warningBytes: 80 * MB,
    });
    expect(warnings[1]).toMatchObject({ retainedWalBytes: 85 * MB });
    expect(watch.latest).toMatchObject({
      retainedWalBytes: 85 * MB,
      safeWalSize: 15 * MB,
      maxSlotWalKeepSize: 100 * MB,
    });
  });

  it('uses retainedWalWarningBytes when the limit is unlimited, and reports an invalidated slot as SLOT_INVALIDATED with the advice', async () => {
    const { watch, warnings, failures } = watchOver([
      reading(11 * MB, null),
      reading(20 * MB, null, 'wal_removed'),
    ]);
    watch.start();
    await watch.check();
    await watch.check();
    expect(warnings).toEqual([
      expect.objectContaining({ warningBytes: 10 * MB, maxSlotWalKeepSize: null }),
    ]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: 'SLOT_INVALIDATED' });
    expect(failures[0]!.message).toMatch(/"orders" was invalidated \(wal_removed\).*backfill/);
  });
});
