// What a stranger gets from npm: the publishable packages, packed as `pnpm publish` packs them
// (workspace: and catalog: ranges rewritten), and plain npm installs of those tarballs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository (KOYO_CHECKS_ROOT: another checkout, e.g. to measure a baseline). */
export const root = process.env.KOYO_CHECKS_ROOT ?? join(import.meta.dirname, '..', '..', '..');

/** Published packages: every packages/* package.json that is not private, by directory name. */
export function publishedPackages() {
  return readdirSync(join(root, 'packages'))
    .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
    .map((dir) => ({
      dir,
      manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')),
    }))
    .filter(({ manifest }) => manifest.private !== true);
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      npm_config_update_notifier: 'false',
      FORCE_COLOR: '0',
    },
  });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${result.stdout}\n${result.stderr}`,
    );
  return result.stdout;
}

/** Packs every package (built dist expected) into `dest`; returns name -> tarball path. */
export function packAll(dest, dirs = publishedPackages().map((p) => p.dir)) {
  const tarballs = {};
  for (const dir of dirs) {
    const cwd = join(root, 'packages', dir);
    const out = run('pnpm', ['pack', '--pack-destination', dest], cwd).trim().split('\n');
    const tarball = out.findLast((line) => line.trim().endsWith('.tgz')).trim();
    const name = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')).name;
    tarballs[name] = tarball.startsWith('/') ? tarball : join(dest, tarball);
  }
  return tarballs;
}

/** Writes a package.json and runs a plain `npm install` of `specs` in `dir`. */
export function npmInstall(dir, specs, manifest = {}) {
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'stranger', version: '1.0.0', private: true, ...manifest }, null, 2),
  );
  run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs],
    dir,
  );
}

/** Bytes on disk and number of installed packages under `dir`/node_modules. */
export function footprint(dir) {
  let bytes = 0;
  const size = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) size(full);
      else if (entry.isFile()) bytes += statSync(full).size;
    }
  };
  const packagesIn = (nodeModules) => {
    let count = 0;
    for (const name of readdirSync(nodeModules)) {
      if (name.startsWith('.')) continue;
      const dirs = name.startsWith('@')
        ? readdirSync(join(nodeModules, name)).map((sub) => join(nodeModules, name, sub))
        : [join(nodeModules, name)];
      for (const pkg of dirs) {
        count++;
        if (existsSync(join(pkg, 'node_modules'))) count += packagesIn(join(pkg, 'node_modules'));
      }
    }
    return count;
  };
  const nodeModules = join(dir, 'node_modules');
  if (!existsSync(nodeModules)) return { bytes: 0, packages: 0 };
  size(nodeModules);
  return { bytes, packages: packagesIn(nodeModules) };
}
