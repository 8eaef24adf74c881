import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
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

/** Newest modification time of the package's non-test sources. */
async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || /\.test(-d)?\.ts$/.test(entry.name))
      continue;
    newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/** Runs `fn` while holding a directory lock, so the flavours running in parallel build once. */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(packageDir, 'node_modules', '.koyo-knex-build.lock');
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 300_000) await rm(lock, { recursive: true, force: true }); // left by a killed run
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

let db: TestDatabase;
beforeAll(async () => {
  // A CommonJS consumer loads the published entry (dist), not src: build it first when stale.
  await withBuildLock(async () => {
    if (!existsSync(join(routerDir, 'dist', 'index.js')))
      await run(process.execPath, [tsc, '-p', join(routerDir, 'tsconfig.build.json')]);
    const built = join(packageDir, 'dist', 'index.js');
    const builtAt = existsSync(built) ? (await stat(built)).mtimeMs : 0;
    if (builtAt < (await newestSource(join(packageDir, 'src'))))
      await run(process.execPath, [tsc, '-p', join(packageDir, 'tsconfig.build.json')]);
  });
  db = await createTestDatabase('knex_cjs');
});
afterAll(async () => {
  await db?.drop();
});

describe('CommonJS consumers', () => {
  it("require('@koyo/knex') works on this Node (require(esm)) and routes", async () => {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(major > 20 || (major === 20 && minor >= 19)).toBe(true);
    const { stdout, stderr } = await run(
      process.execPath,
      [join(here, 'fixtures', 'consumer.cjs')],
      {
        cwd: packageDir,
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          PRIMARY_URL: db.url,
          REPLICA_URLS: JSON.stringify(db.replicaUrls),
        },
      },
    );
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
