// A newcomer's first `pnpm install` on a fresh clone must be clean: no dependency whose build
// script pnpm skipped (pnpm 10 skips unlisted ones and prints "Ignored build scripts").
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'koyo-fresh-install-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The files pnpm reads to install: the root manifests and every workspace package's package.json. */
function copyManifests(target: string): void {
  for (const file of ['package.json', 'pnpm-workspace.yaml', 'pnpm-lock.yaml', '.npmrc']) {
    if (existsSync(join(root, file))) cpSync(join(root, file), join(target, file));
  }
  for (const group of ['packages', 'apps', 'tooling']) {
    for (const name of readdirSync(join(root, group))) {
      const manifest = join(root, group, name, 'package.json');
      if (existsSync(manifest)) cpSync(manifest, join(target, group, name, 'package.json'));
    }
  }
}

test('a fresh pnpm install runs or explicitly ignores every dependency build script', () => {
  copyManifests(scratch);
  const result = spawnSync('pnpm', ['install', '--frozen-lockfile', '--prefer-offline'], {
    cwd: scratch,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', npm_config_color: 'false', FORCE_COLOR: '0' },
  });
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.status, output).toBe(0);
  expect(output).not.toMatch(/Ignored build scripts/i);
  expect(output).not.toMatch(/approve-builds/i);
});
