#!/usr/bin/env node
// Entry point of the root npm scripts, so a fresh clone needs only Node and npm:
// installs dependencies with the pinned pnpm when needed, then runs the task through pnpm.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pnpmVersion = JSON.parse(
  readFileSync(join(root, 'package.json'), 'utf8'),
).packageManager.split('@')[1];
const tasks = {
  check: ['run', 'check'],
  demo: ['run', 'demo:run'],
  bench: ['--filter', '@koyo/bench', 'run', 'bench'],
};

const [task, ...rest] = process.argv.slice(2);
if (!task || !(task in tasks)) {
  console.error(`usage: node tooling/scripts/dev.mjs <${Object.keys(tasks).join('|')}> [args...]`);
  process.exit(2);
}

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };

function pnpmOnPath() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8', env });
  return probe.status === 0 && probe.stdout.trim().split('.')[0] === pnpmVersion.split('.')[0];
}

// Without a global pnpm, `npm exec` puts the pinned pnpm on PATH for everything below it
// (turbo calls pnpm for each package task).
const usePath = pnpmOnPath();
function pnpm(args) {
  const [command, argv] = usePath
    ? ['pnpm', args]
    : ['npm', ['exec', '--yes', `--package=pnpm@${pnpmVersion}`, '--', 'pnpm', ...args]];
  const result = spawnSync(command, argv, { cwd: root, stdio: 'inherit', env });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function needsInstall() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  if (!existsSync(marker)) return true;
  return statSync(join(root, 'pnpm-lock.yaml')).mtimeMs > statSync(marker).mtimeMs;
}

if (needsInstall()) {
  const status = pnpm(['install', '--frozen-lockfile']);
  if (status !== 0) process.exit(status);
}

if (task === 'check') {
  // Reports of an earlier run must not be counted again by the CI summary.
  for (const dir of ['packages', 'apps']) {
    const base = join(root, dir);
    if (!existsSync(base)) continue;
    for (const name of spawnSync('ls', [base], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)) {
      rmSync(join(base, name, '.vitest-report.json'), { force: true });
    }
  }
}

// Ctrl-C reaches the whole process group: the task handles it (the demo prints a summary and
// cleans up), so this wrapper waits for it and exits with its code instead of dying first (which
// made pnpm print ELIFECYCLE after a clean stop).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => undefined);
if (task === 'demo') {
  // Node directly, not through another `pnpm run`: that one would report the Ctrl-C as a failure.
  const demo = spawnSync(
    process.execPath,
    [
      '--conditions=@koyo/source',
      '--import',
      'tsx',
      join(root, 'apps', 'demo', 'src', 'tour.ts'),
      ...rest,
    ],
    { cwd: root, stdio: 'inherit', env },
  );
  if (demo.status === null) console.error(`demo: ended by ${demo.signal}`);
  process.exit(demo.status ?? 1);
}
process.exit(pnpm([...tasks[task], ...rest]));
