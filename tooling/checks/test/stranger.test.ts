// What a stranger does: every package packed, installed with plain npm into a fresh project next
// to the app's own pg, postgres.js, Knex, Drizzle and TypeScript, then used from an ESM app, a
// CommonJS app, a TypeScript project (the READMEs' examples, extracted as test/readme-examples
// does, under nodenext and bundler; every import they make under node10) and the CLI, against a
// real PostgreSQL.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmInstall, packAll, publishedPackages, root } from '../lib/packages.mjs';
import {
  compileReadmeExamples,
  extractReadmeExamples,
  writeReadmeExamples,
} from '../lib/readme-examples.mjs';

const work = mkdtempSync(join(tmpdir(), 'koyo-stranger-'));
const project = join(work, 'app');
let cluster: Cluster;
let tarballs: Record<string, string>;
// @koyo/testing is not published: its README is compiled by test/readme-examples only.
const examples = extractReadmeExamples(root).filter((e) => e.dir !== 'testing');

/** Every module the READMEs import, type-imported: what node10 resolution must find. */
function writeNode10Imports(): void {
  const specifiers = new Set<string>();
  for (const { code } of examples)
    for (const [, specifier] of code.matchAll(/from '(@koyo\/[^']+)'/g)) specifiers.add(specifier);
  const lines = [...specifiers].map(
    (s, i) => `import type * as m${i} from '${s}';\nexport type M${i} = typeof m${i};`,
  );
  writeFileSync(join(project, 'node10-imports.ts'), `${lines.join('\n')}\n`);
}

beforeAll(async () => {
  cluster = await startCluster({ replicas: 0 });
  mkdirSync(join(work, 'packs'));
  const names = publishedPackages()
    .map((p) => p.dir)
    .filter((dir) => dir !== 'testing');
  tarballs = packAll(join(work, 'packs'), names);
  cpSync(join(import.meta.dirname, 'stranger'), project, { recursive: true });
  npmInstall(
    project,
    [
      ...Object.values(tarballs),
      // The newest version of each peer dependency range (lowestPeers below: the other end).
      'pg@^8.11.0',
      'pg-logical-replication@^2',
      'postgres@>=3.4',
      'knex@^3.1.0',
      'drizzle-orm@>=0.45.0 <1',
      'hono@^4', // the router README's Hono middleware example
      'typescript@5.9.3',
      '@types/node@^20',
      '@types/pg@^8',
    ],
    { type: 'module' },
  );
  writeNode10Imports();
}, 240_000); // packing and a plain npm install of everything (network on a cold npm cache)
afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000); // stopping the cluster waits for its servers' shutdown checkpoints (slow on a busy machine)

function run(
  command: string,
  args: string[],
  where: { cwd: string; url: string } = { cwd: project, url: cluster.primary.url },
): { status: number | null; output: string } {
  const result = spawnSync(command, args, {
    cwd: where.cwd,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: where.url, NODE_OPTIONS: '' },
  });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('a stranger installs koyo with npm', () => {
  it('an ESM app uses dispatcher, knex, drizzle, router (pg and postgres.js), slot and pgoutput', () => {
    const result = run(process.execPath, ['esm.mjs']);
    expect(result.output).toContain('esm ok');
    expect(result.status, result.output).toBe(0);
  });

  it('a CommonJS app requires them', () => {
    const result = run(process.execPath, ['cjs.cjs']);
    expect(result.output).toContain('cjs ok');
    expect(result.status, result.output).toBe(0);
  });

  it.each(['nodenext', 'bundler'])(
    'the READMEs’ examples compile under strict, moduleResolution %s',
    (mode) => {
      const ts = createRequire(join(project, 'package.json'))('typescript');
      const projects = writeReadmeExamples(examples, join(project, `readme-${mode}`));
      expect(compileReadmeExamples(ts, projects, mode, project)).toEqual([]);
    },
  );

  it('every module the READMEs import resolves under moduleResolution node10', () => {
    const result = run(process.execPath, [
      join(project, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'tsconfig.node10.json',
    ]);
    expect(result.output.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it('the CLI runs as npx koyo', () => {
    const help = run('npx', ['--no-install', 'koyo', '--help']);
    expect(help.status, help.output).toBe(0);
    expect(help.output).toMatch(/setup +Print/);
    const setup = run('npx', [
      '--no-install',
      'koyo',
      'setup',
      '--url',
      cluster.primary.url,
      '--table',
      'stranger_users',
    ]);
    expect(setup.status, setup.output).toBe(0);
    expect(setup.output).toContain(
      'CREATE PUBLICATION "koyo" FOR TABLE "public"."stranger_users";',
    );
  });
});

// The lowest version of each runtime peer dependency range the packages declare (pg, postgres.js,
// Knex, Drizzle): the same ESM and CommonJS apps, installed next to exactly those versions.
const lowestPeers = { pg: '8.11.0', postgres: '3.4.0', knex: '3.1.0', 'drizzle-orm': '0.45.0' };

describe('at the lowest supported peer dependency versions', () => {
  const lowest = join(work, 'lowest');
  let url: string;
  beforeAll(async () => {
    cpSync(join(import.meta.dirname, 'stranger'), lowest, { recursive: true });
    npmInstall(
      lowest,
      [...Object.values(tarballs), ...Object.entries(lowestPeers).map(([n, v]) => `${n}@${v}`)],
      { type: 'module' },
    );
    await cluster.primary.query('CREATE DATABASE stranger_lowest');
    const target = new URL(cluster.primary.url);
    target.pathname = '/stranger_lowest';
    url = target.toString();
  }, 240_000); // a plain npm install (network on a cold npm cache)

  it('installs exactly those versions (no newer copy beside them)', () => {
    const ls = spawnSync('npm', ['ls', '--all', '--json', ...Object.keys(lowestPeers)], {
      cwd: lowest,
      encoding: 'utf8',
    });
    const versions = new Map<string, Set<string>>();
    const walk = (deps: Record<string, { version: string; dependencies?: object }> = {}) => {
      for (const [name, dep] of Object.entries(deps)) {
        if (name in lowestPeers)
          versions.set(name, (versions.get(name) ?? new Set()).add(dep.version));
        walk(dep.dependencies as typeof deps);
      }
    };
    walk(JSON.parse(ls.stdout).dependencies);
    expect(Object.fromEntries([...versions].map(([n, v]) => [n, [...v]]))).toEqual(
      Object.fromEntries(Object.entries(lowestPeers).map(([n, v]) => [n, [v]])),
    );
  });

  it('the ESM app runs', () => {
    const result = run(process.execPath, ['esm.mjs'], { cwd: lowest, url });
    expect(result.output).toContain('esm ok');
    expect(result.status, result.output).toBe(0);
  });

  it('the CommonJS app runs', () => {
    const result = run(process.execPath, ['cjs.cjs'], { cwd: lowest, url });
    expect(result.output).toContain('cjs ok');
    expect(result.status, result.output).toBe(0);
  });
});
