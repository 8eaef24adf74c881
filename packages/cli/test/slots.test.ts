import { describe, expect, it } from 'vitest';
import { koyo, uniqueName, useDb } from './helpers.js';

const db = useDb('cli_slots');

describe('koyo slots', () => {
  it('lists slots with lag, holder and WAL status (text and --json), and drops one', async () => {
    const slot = uniqueName('cli_slots');
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await db.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');

    const text = await koyo(['slots', '--url', db.url]);
    expect(text.code, text.stderr).toBe(0);
    const header = text.stdout.split('\n')[0]!;
    expect(header.split(/\s{2,}/)).toEqual([
      'NAME',
      'TYPE',
      'DATABASE',
      'ACTIVE PID',
      'LAG',
      'RETAINED',
      'WAL STATUS',
      'SAFE WAL',
    ]);
    const row = text.stdout.split('\n').find((line) => line.startsWith(`${slot} `));
    expect(row).toBeDefined();
    expect(row!.split(/\s{2,}/)).toEqual([
      slot,
      'logical/pgoutput',
      db.name,
      '-',
      expect.stringMatching(/^\d+(\.\d)? (B|kB|MB)$/),
      expect.stringMatching(/ (B|kB|MB)$/),
      'reserved',
      expect.stringMatching(/^(\d+(\.\d)? (MB|GB)|unlimited)$/),
    ]);

    const json = await koyo(['slots', '--json', '--url', db.url]);
    expect(json.code).toBe(0);
    const listed = (JSON.parse(json.stdout) as any[]).find((s) => s.name === slot);
    expect(listed).toMatchObject({
      name: slot,
      type: 'logical',
      plugin: 'pgoutput',
      database: db.name,
      active: false,
      activePid: null,
      walStatus: 'reserved',
    });
    expect(listed.lagBytes).toBeGreaterThan(0);

    const dropped = await koyo(['slots', 'drop', slot, '--url', db.url]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toContain(`Dropped replication slot "${slot}"`);
    expect(
      await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]),
    ).toEqual([]);

    const again = await koyo(['slots', 'drop', slot, '--url', db.url]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(
      `koyo slots drop: error: replication slot "${slot}" does not exist (koyo slots lists them)`,
    );
  });

  it('refuses to drop a slot in use unless --force, which terminates the holder', async () => {
    const slot = uniqueName('cli_busy');
    // A session that holds the slot: its temporary slot is active for this backend.
    const { default: pg } = await import('pg');
    const holder = new pg.Client(db.url);
    holder.on('error', () => undefined);
    await holder.connect();
    try {
      await holder.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)", [slot]);
      const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
        .rows as [{ pid: number }];
      const refused = await koyo(['slots', 'drop', slot, '--url', db.url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(new RegExp(`in use by PID ${pid}`));
      const forced = await koyo(['slots', 'drop', slot, '--force', '--url', db.url]);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toContain(`terminated PID ${pid} first`);
      expect(
        await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]),
      ).toEqual([]);
    } finally {
      await holder.end().catch(() => undefined);
    }
  });
});
