import { startCluster, type Cluster } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { koyo, koyoSetup, uniqueName, useDb } from './helpers.js';

const db = useDb('cli_doctor');
let replicaLevel: Cluster;

beforeAll(async () => {
  // A server that cannot do logical decoding (same PostgreSQL flavour as this project's).
  replicaLevel = await startCluster({ replicas: 0, settings: { wal_level: 'replica' } });
  await replicaLevel.primary.query('CREATE TABLE users (id int PRIMARY KEY)');
});

afterAll(async () => {
  await replicaLevel?.stop();
});

describe('koyo doctor', () => {
  it('fails on a wal_level=replica server, naming wal_level and the exact fix', async () => {
    const result = await koyo(['doctor', '--url', replicaLevel.primary.url]);
    expect(result.code).toBe(1);
    const line = result.stdout.split('\n').findIndex((text) => text.startsWith('✗ wal_level'));
    expect(line).toBeGreaterThan(-1);
    const lines = result.stdout.split('\n');
    expect(lines[line]).toMatch(
      /^✗ wal_level\s+wal_level = replica: logical decoding needs wal_level = logical\.$/,
    );
    expect(lines[line + 1]!.trim()).toBe(
      'fix: ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL',
    );
    expect(result.stdout).toMatch(/^✓ connect /m);

    const json = await koyo(['doctor', '--json', '--url', replicaLevel.primary.url]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.checks.find((check: { id: string }) => check.id === 'wal_level')).toEqual({
      id: 'wal_level',
      ok: false,
      severity: 'error',
      message: 'wal_level = replica: logical decoding needs wal_level = logical.',
      fix: 'ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL',
    });
  });

  it('koyo setup prints what a wal_level=replica server needs, without changing it', async () => {
    const result = await koyo(['setup', '--url', replicaLevel.primary.url, '--table', 'users']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('ALTER SYSTEM SET wal_level = logical;  -- now replica');
    expect(result.stdout).toContain('CREATE PUBLICATION "koyo" FOR TABLE "public"."users";');
    expect(result.stdout).toMatch(
      /SELECT pg_create_logical_replication_slot\('koyo', 'pgoutput'\);\s+-- after the restart/,
    );
    expect(result.stdout).toContain('CREATE ROLE "koyo" WITH LOGIN REPLICATION');
    const [row] = await replicaLevel.primary.query(
      "SELECT setting FROM pg_settings WHERE name = 'wal_level'",
    );
    expect(row).toEqual({ setting: 'replica' });
  });

  it('passes on a good server once koyo setup --apply created the publication, slot and role', async () => {
    const slot = uniqueName('cli_doctor');
    const role = uniqueName('koyo_role');
    await db.query('CREATE TABLE users (id int PRIMARY KEY, email text)');
    const before = await koyo(['doctor', '--url', db.url, '--slot', slot, '--publication', slot]);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^✗ publication /m);
    expect(before.stdout).toMatch(/^✗ slot /m);

    const setup = await koyoSetup({ apply: true, url: db.url, slot, table: 'users', role });
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stdout).toContain(`✓ CREATE PUBLICATION "${slot}" FOR TABLE "public"."users";`);
    expect(setup.stdout).toContain(
      `✓ SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput');`,
    );
    expect(
      await db.query(
        'SELECT rolreplication, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = $1',
        [role],
      ),
    ).toEqual([{ rolreplication: true, rolcanlogin: true, rolsuper: false }]);
    expect(
      await db.query('SELECT tablename FROM pg_publication_tables WHERE pubname = $1', [slot]),
    ).toEqual([{ tablename: 'users' }]);

    const after = await koyo(['doctor', '--url', db.url, '--slot', slot, '--publication', slot]);
    expect(after.code, after.stdout).toBe(0);
    expect(after.stdout).not.toContain('✗');
    expect(after.stdout).toMatch(/^✓ wal_level\s+wal_level = logical\.$/m);
    expect(after.stdout).toMatch(/All \d+ checks passed\./);

    // Applying again has nothing left to do.
    const again = await koyoSetup({ url: db.url, slot, table: 'users', role });
    expect(again.stdout).toContain(`-- ok: publication ${slot} exists`);
    expect(again.stdout).toContain(`-- ok: slot ${slot} exists`);
    expect(again.stdout).toContain(`-- ok: role ${role} exists`);
    await db.query(`DROP ROLE ${role}`).catch(() => undefined);
  });
});
