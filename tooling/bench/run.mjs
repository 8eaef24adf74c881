#!/usr/bin/env node
// Runs every src/*.bench.ts in its own process (one at a time, so they do not compete for the
// two cores) and writes BENCHMARKS.md at the repo root: a machine header, then each script's
// Markdown section. A script prints its section (a `## ` heading, a sentence, a table) to stdout;
// anything it writes to stderr is progress for the console only.
// Usage: pnpm bench [name-filter] [--update]
// --update (with a filter): replaces the matching sections of BENCHMARKS.md (same `## ` heading),
// or appends them, keeping every other section as it is.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const update = process.argv.includes('--update');
const filter = process.argv.slice(2).find((arg) => arg !== '--update');
const scripts = readdirSync(join(here, 'src'))
  .filter((name) => name.endsWith('.bench.ts') && (!filter || name.includes(filter)))
  .sort();

function postgresVersion() {
  const probe = spawnSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1'], {
    encoding: 'utf8',
  });
  const dir = probe.stdout.trim();
  if (!dir) return 'none on the machine';
  return spawnSync(join(dir, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim();
}

function run(script) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@koyo/source', '--expose-gc', '--import', 'tsx', join('src', script)],
      { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code) => resolve({ script, code, out: out.trim() }));
  });
}

const started = new Date();
const sections = [];
let failed = 0;
for (const script of scripts) {
  console.error(`bench: ${script}`);
  const result = await run(script);
  if (result.code !== 0) {
    failed += 1;
    sections.push(
      `## ${script}\n\nFailed with exit code ${result.code}; see the console output of \`pnpm bench\`.`,
    );
  } else {
    sections.push(result.out);
  }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const header = [
  '# koyo benchmarks',
  '',
  `Written by \`pnpm bench\` (tooling/bench) on ${started.toISOString().slice(0, 10)}. Every comparison runs`,
  'side by side in one process run on the same machine and servers; ratios matter more than absolutes.',
  '',
  `- Machine: ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  `- Node ${process.version}; machine PostgreSQL: ${postgresVersion()}; embedded PostgreSQL 18 where a script says so`,
  '',
].join('\n');

const file = join(root, 'BENCHMARKS.md');
if (!filter) writeFileSync(file, `${header}\n${sections.join('\n\n')}\n`);
else if (update && existsSync(file) && !failed) {
  // Split before each `## ` heading; replace the sections whose heading a new one has.
  let text = readFileSync(file, 'utf8');
  for (const section of sections) {
    const heading = section.split('\n', 1)[0];
    const parts = text.split(/\n(?=## )/);
    const at = parts.findIndex((part) => part.split('\n', 1)[0] === heading);
    if (at >= 0) parts[at] = `${section}\n`;
    else parts.push(`${section}\n`);
    text = parts.join('\n');
  }
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  console.error('bench: updated the matching sections of BENCHMARKS.md');
} else
  console.error(
    'bench: a filtered run does not rewrite BENCHMARKS.md (add --update to replace its sections)',
  );
process.exit(failed ? 1 : 0);
