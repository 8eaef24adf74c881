// Every ```ts example of every package README compiles under strict, with moduleResolution
// nodenext and bundler, against the workspace packages' built types (run `pnpm -r build` first).
// A block that cannot be TypeScript is skipped only by a `<!-- readme-check: skip (reason) -->`
// marker right before it; this test lists those.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from '../lib/packages.mjs';
import {
  compileReadmeExamples,
  extractReadmeExamples,
  writeReadmeExamples,
} from '../lib/readme-examples.mjs';

const ts = createRequire(join(root, 'package.json'))('typescript');
const work = mkdtempSync(join(tmpdir(), 'koyo-readme-examples-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Where the workspace has `name` installed: the root or any package's node_modules. */
function installed(name: string): string {
  for (const base of [
    root,
    ...readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)),
  ]) {
    const path = join(base, 'node_modules', name);
    if (existsSync(path)) return path;
  }
  throw new Error(`${name} is installed nowhere in the workspace: run pnpm install`);
}

/** A project whose node_modules has the workspace packages and the libraries the READMEs import. */
function linkDependencies(project: string): void {
  const link = (name: string, target: string) => {
    mkdirSync(join(project, 'node_modules', name, '..'), { recursive: true });
    symlinkSync(target, join(project, 'node_modules', name), 'dir');
  };
  for (const dir of readdirSync(join(root, 'packages')))
    if (existsSync(join(root, 'packages', dir, 'package.json')))
      link(`@koyo/${dir}`, join(root, 'packages', dir));
  for (const name of ['@types/node', '@types/pg', 'drizzle-orm', 'hono', 'pg-logical-replication'])
    link(name, installed(name));
}

const examples = extractReadmeExamples(root);
writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
linkDependencies(work);
const projects = writeReadmeExamples(examples, work);

describe('README examples', () => {
  it('every README has ts examples, and each skipped block says why', () => {
    expect(projects.map((p) => p.dir)).toEqual(
      expect.arrayContaining(['cli', 'dispatcher', 'drizzle', 'knex', 'router', 'slot']),
    );
    const skipped = examples
      .filter((e) => e.skip !== undefined)
      .map((e) => `packages/${e.dir}/README.md:${e.line}: ${e.skip}`);
    console.info(
      `compiled ${examples.length - skipped.length} examples; skipped:\n${skipped.join('\n')}`,
    );
    for (const reason of skipped) expect(reason).toMatch(/: \S/);
  });

  it.each(['nodenext', 'bundler'])('compile under strict, moduleResolution %s', (mode) => {
    expect(compileReadmeExamples(ts, projects, mode, work)).toEqual([]);
  });
});
