// What `koyo init` writes keeps koyo's safe publication defaults: no FOR ALL TABLES unless asked,
// and no keyless table published. Server truth: no publication, no slot after the refusal.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { koyo, uniqueName, useDb, useProject } from './helpers.js';

const db = useDb('cli_init_safe');
const project = useProject('init-safe');

beforeAll(async () => {
  // users: the table the generated handlers file names when init is given no --table.
  await db.query(
    "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE legacy_log (line text); INSERT INTO legacy_log VALUES ('first')",
  );
});

async function serverState(): Promise<{ publications: unknown[]; slots: unknown[] }> {
  return {
    publications: await db.query('SELECT pubname FROM pg_publication'),
    slots: await db.query('SELECT slot_name FROM pg_replication_slots WHERE database = $1', [
      db.name,
    ]),
  };
}

describe('koyo init, then koyo run, on a database with a keyless table', () => {
  const slot = uniqueName('cli_init_safe');

  it('without --table: the config names no tables, and run refuses to publish every table', async () => {
    expect((await koyo(['init', '--slot', slot], { cwd: project.dir })).code).toBe(0);
    const config = readFileSync(join(project.dir, 'koyo.config.ts'), 'utf8');
    expect(config).toContain("  // tables: ['users', 'billing.invoices'],");
    expect(config).not.toMatch(/^\s*tables:/m);
    const run = await koyo(['run'], { cwd: project.dir, env: { DATABASE_URL: db.url } });
    expect(run.code).not.toBe(0);
    // PUBLICATION_TABLES_REQUIRED, as the CLI words it.
    expect(run.stderr).toContain(
      'no tables were given: koyo publishes every table only when asked',
    );
    expect(await serverState()).toEqual({ publications: [], slots: [] });
  });

  it('with --table naming a keyless table: run refuses to publish it, and its UPDATE still works', async () => {
    expect(
      (
        await koyo(['init', '--force', '--slot', slot, '--table', 'legacy_log'], {
          cwd: project.dir,
        })
      ).code,
    ).toBe(0);
    const run = await koyo(['run'], { cwd: project.dir, env: { DATABASE_URL: db.url } });
    expect(run.code).not.toBe(0);
    // REPLICA_IDENTITY_MISSING, as the CLI words it: the table and both fixes.
    expect(run.stderr).toContain(
      'Publishing public.legacy_log, which has no primary key or replica identity',
    );
    expect(run.stderr).toContain('ALTER TABLE "public"."legacy_log" REPLICA IDENTITY FULL;');
    expect(await serverState()).toEqual({ publications: [], slots: [] });
    await db.query("UPDATE legacy_log SET line = 'edited'");
  });
});
