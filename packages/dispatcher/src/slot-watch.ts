import { invalidatedSlotAdvice } from '@koyo/slot';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { SlotWalStats } from './types.js';

/** @internal one reading of the slot's row in `pg_replication_slots`. */
export interface SlotHealth {
  /** Bytes of WAL the slot keeps (current position minus `restart_lsn`). */
  retainedBytes: number | null;
  walStatus: string | null;
  safeWalSize: number | null;
  /** `max_slot_wal_keep_size` in bytes; `null` when unlimited (-1). */
  keepBytes: number | null;
  /** Why the slot was invalidated; `null` while it is valid. */
  invalidationReason: string | null;
}

/** @internal how the watch reads the slot; `null` when the slot does not exist. */
export type SlotHealthReader = () => Promise<SlotHealth | null>;

/** Share of `max_slot_wal_keep_size` past which the retained-WAL warning is logged. */
export const RETAINED_WAL_WARNING_SHARE = 0.8;

/**
 * @internal Reads the slot every `intervalMs`: the WAL it retains, `wal_status` and
 * `safe_wal_size` (for `stats().slot`), a warning once retained WAL passes 80% of
 * `max_slot_wal_keep_size` (or `warningBytes` when that is unlimited), logged again only after it
 * fell back below, and `SLOT_INVALIDATED` with the recovery advice once the server invalidated
 * the slot. A failed reading (a failover under way) is skipped.
 */
export class SlotWatch {
  latest: SlotWalStats | null = null;
  private warned = false;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(
    private readonly read: SlotHealthReader,
    private readonly slot: string,
    private readonly intervalMs: number,
    private readonly warningBytes: number,
    private readonly logger: Logger,
    private readonly onInvalidated: (error: KoyoDispatcherError) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads the slot once (no two readings at a time). */
  check(): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    let health: SlotHealth | null;
    try {
      health = await this.read();
    } catch (error) {
      this.logger.debug(
        { slot: this.slot, error: (error as Error).message },
        'could not read the slot (retried)',
      );
      return;
    }
    if (!health || this.timer === null) return;
    this.latest = {
      retainedWalBytes: health.retainedBytes,
      walStatus: health.walStatus,
      safeWalSize: health.safeWalSize,
      maxSlotWalKeepSize: health.keepBytes,
      checkedAt: new Date().toISOString(),
    };
    if (health.invalidationReason !== null) {
      this.stop();
      this.onInvalidated(
        new KoyoDispatcherError(
          'SLOT_INVALIDATED',
          `Replication slot "${this.slot}" was invalidated (${health.invalidationReason}): the WAL it needed is gone. ${invalidatedSlotAdvice(this.slot)}`,
        ),
      );
      return;
    }
    const bound =
      health.keepBytes === null
        ? this.warningBytes
        : Math.floor(health.keepBytes * RETAINED_WAL_WARNING_SHARE);
    const retained = health.retainedBytes ?? 0;
    if (retained < bound) {
      this.warned = false;
      return;
    }
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      {
        slot: this.slot,
        retainedWalBytes: retained,
        warningBytes: bound,
        maxSlotWalKeepSize: health.keepBytes,
        walStatus: health.walStatus,
        safeWalSize: health.safeWalSize,
      },
      health.keepBytes === null
        ? `replication slot retains ${retained} bytes of WAL, past retainedWalWarningBytes, and max_slot_wal_keep_size is unlimited: the disk fills until handlers catch up; speed them up or set max_slot_wal_keep_size`
        : `replication slot retains ${retained} bytes of WAL, past 80% of max_slot_wal_keep_size: the server invalidates it past the limit (then only a new slot and a backfill recover); speed up handlers or raise max_slot_wal_keep_size`,
    );
  }
}
