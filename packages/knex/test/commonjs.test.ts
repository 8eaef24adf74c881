import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = import.meta.dirname;
const packageDir = join(here, '..');
const routerDir = join(packageDir, '..', 'router');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

let db: TestDatabase;
beforeAll(async () => {
  // A CommonJS consumer loads the published entry (dist), not src: build it first.
  if (!existsSync(join(routerDir, 'dist', 'index.js'))) await run(process.execPath, [tsc, '-p', join(routerDir, 'tsconfig.build.json')]);
  await run(process.execPath, [tsc, '-p', join(packageDir, 'tsconfig.build.json')]);
  db = await createTestDatabase('knex_cjs');
});
afterAll(async () => {
  await db?.drop();
});

describe('CommonJS consumers', () => {
  it("require('@koyo/knex') works on this Node (require(esm)) and routes", async () => {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(major > 20 || (major === 20 && minor >= 19)).toBe(true);
    const { stdout, stderr } = await run(process.execPath, [join(here, 'fixtures', 'consumer.cjs')], {
      cwd: packageDir,
      env: { ...process.env, NODE_OPTIONS: '', PRIMARY_URL: db.url, REPLICA_URLS: JSON.stringify(db.replicaUrls) },
    });
    expect(stderr).not.toMatch(/Error/);
    const out = JSON.parse(stdout) as Record<string, { r?: boolean; port?: number; role?: string }>;
    expect(out.read!.r).toBe(true);
    expect(db.cluster.replicas.map((r) => r.port)).toContain(out.read!.port);
    expect(out.write).toEqual({ port: db.cluster.primary.port, r: false });
    expect(out.primary).toEqual({ port: db.cluster.primary.port, r: false });
    expect(out.lock).toEqual({ role: 'write', reason: 'builder:forUpdate' });
    expect(out.isKnexClient).toBe(true);
    expect(out.errorClass).toBe('function');
    expect(out.hasMigrate).toBe('function');
  });
});
