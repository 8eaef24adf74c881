// koyo doctor --origins and koyo slots drop with a slot that has a replication origin.
import { describe, expect, it } from 'vitest';
import { koyo, uniqueName, useDb } from './helpers.js';

const db = useDb('cli_origins');

describe('replication origins in the cli', () => {
  it('doctor --origins reports the privileges and an origin whose slot is gone', async () => {
    const orphan = `koyo_${uniqueName('gone')}`;
    await db.query('SELECT pg_replication_origin_create($1)', [orphan]);
    try {
      const result = await koyo(['doctor', '--origins', '--json', '--url', db.url]);
      const report = JSON.parse(result.stdout) as {
        checks: { id: string; ok: boolean; fix: string | null }[];
      };
      expect(report.checks.find((c) => c.id === 'origin_privileges')).toMatchObject({ ok: true });
      expect(report.checks.find((c) => c.id === `orphan_origin:${orphan}`)).toMatchObject({
        ok: false,
        fix: `SELECT pg_replication_origin_drop('${orphan}');`,
      });
      expect(result.code).toBe(1);
      const text = await koyo(['doctor', '--url', db.url]);
      expect(text.stdout).not.toContain('orphan_origin');
    } finally {
      await db.query('SELECT pg_replication_origin_drop($1)', [orphan]);
    }
  });

  it('slots drop also drops the slot’s replication origin', async () => {
    const slot = uniqueName('cli_origin');
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await db.query('SELECT pg_replication_origin_create($1)', [`koyo_${slot}`]);
    const dropped = await koyo(['slots', 'drop', slot, '--url', db.url]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toContain(`Dropped its replication origin "koyo_${slot}"`);
    expect(
      await db.query('SELECT 1 FROM pg_replication_origin WHERE roname = $1', [`koyo_${slot}`]),
    ).toEqual([]);
    expect(
      await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]),
    ).toEqual([]);
  });
});
