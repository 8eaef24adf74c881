import { clusterPerFile, slotWalLimit } from '@koyo/testing/vitest';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, KoyoDispatcherError, type Logger } from '../src/index.js';
import { waitFor } from './helpers.js';

// A consumer that stops making progress keeps WAL on the server. With max_slot_wal_keep_size =
// 64MB the dispatcher reports the retained WAL in stats(), warns once past 80% of the limit, and
// when the server invalidates the slot, fails with the typed SLOT_INVALIDATED saying how to
// recover (a new slot and a backfill) instead of retrying forever.

interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg = ''): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('slot safety: retained WAL, the warning, then SLOT_INVALIDATED', () => {
  const cluster = clusterPerFile({ replicas: 0, settings: slotWalLimit('64MB') });
  beforeAll(async () => {
    await cluster.primary.query('CREATE TABLE items (id int PRIMARY KEY)');
  });

  it('a stalled handler: stats().slot shows the WAL kept, one warning past 80%, then SLOT_INVALIDATED with the recovery advice', async () => {
    const url = cluster.primary.url;
    const lines: LogLine[] = [];
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const dispatcher = createDispatcher({
      connection: url,
      slot: 'safety_slot',
      publication: 'safety_pub',
      tables: ['items'],
      logger: capturingLogger(lines),
      slotCheckIntervalMs: 100,
      statusIntervalMs: 200,
    });
    dispatcher.onTable('items', () => stalled); // the consumer stops making progress
    await dispatcher.start();
    await waitFor(() => dispatcher.stats().slot !== null, 'the first slot reading');
    expect(dispatcher.stats().slot).toMatchObject({
      walStatus: 'reserved',
      maxSlotWalKeepSize: 64 * 1024 * 1024,
    });
    expect(dispatcher.stats().slot!.safeWalSize).toBeGreaterThan(0);

    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    let id = 0;
    const writeSegment = async (): Promise<void> => {
      await admin.query('INSERT INTO items VALUES ($1)', [++id]);
      await admin.query('SELECT pg_switch_wal()');
    };
    const warnings = (): LogLine[] =>
      lines.filter((line) => line.level === 'warn' && /max_slot_wal_keep_size/.test(line.msg));

    // Each switch ends a 16 MB segment; nothing is removed before a checkpoint.
    await waitFor(
      async () => {
        if (warnings().length > 0) return true;
        await writeSegment();
        await new Promise((resolve) => setTimeout(resolve, 150));
        return false;
      },
      'the retained-WAL warning',
      60_000,
      0,
    );
    const [warning] = warnings();
    expect(warning!.obj).toMatchObject({ slot: 'safety_slot', warningBytes: 53_687_091 });
    expect(warning!.obj.retainedWalBytes as number).toBeGreaterThanOrEqual(53_687_091);
    expect(dispatcher.stats().slot!.retainedWalBytes).toBeGreaterThanOrEqual(53_687_091);
    // Server truth: what pg_replication_slots says the slot keeps.
    const [server] = await cluster.primary.query<{ retained: string }>(
      "SELECT (pg_current_wal_lsn() - restart_lsn)::text AS retained FROM pg_replication_slots WHERE slot_name = 'safety_slot'",
    );
    expect(Number(server!.retained)).toBeGreaterThanOrEqual(53_687_091);

    // Past the limit, a checkpoint invalidates the slot.
    await waitFor(
      async () => {
        await writeSegment();
        await admin.query('CHECKPOINT');
        const [row] = await cluster.primary.query<{ wal_status: string }>(
          "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'safety_slot'",
        );
        return row?.wal_status === 'lost';
      },
      'the slot to be invalidated',
      60_000,
      0,
    );
    await admin.end();
    await waitFor(() => dispatcher.stats().error !== null, 'the dispatcher to fail');
    release();
    const error: unknown = await dispatcher.closed.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KoyoDispatcherError);
    expect(error).toMatchObject({ code: 'SLOT_INVALIDATED' });
    expect((error as Error).message).toMatch(/backfill/);
    expect((error as Error).message).toContain('safety_slot');
    expect(warnings()).toHaveLength(1); // once, not at every reading
  }, 180_000);
});
