// What npm shows and ships for each published package: license file, repository, links that
// work on the npm website, types for every entry under every moduleResolution, and dependency
// declarations that let an app keep its own pg.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishedPackages, root } from '../lib/packages.mjs';

interface Manifest {
  name: string;
  license?: string;
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  keywords?: string[];
  sideEffects?: unknown;
  types?: string;
  typesVersions?: Record<string, Record<string, string[]>>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  repository?: { url?: string };
};
const license = readFileSync(join(root, 'LICENSE'), 'utf8');
/** Drivers and ORMs an app brings itself: never a koyo library's own runtime dependency. */
const APP_OWNED = ['pg', 'postgres', 'knex', 'drizzle-orm'];

describe.each(
  publishedPackages().map(
    ({ dir, manifest }) => [manifest.name as string, dir, manifest as Manifest] as const,
  ),
)('%s', (name, dir, manifest) => {
  const packageDir = join(root, 'packages', dir);

  it('ships the MIT LICENSE and says where it comes from', () => {
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(packageDir, 'LICENSE'), 'utf8')).toBe(license);
    expect(manifest.repository).toEqual({
      type: 'git',
      url: `git+${rootManifest.repository?.url}.git`,
      directory: `packages/${dir}`,
    });
    expect(manifest.homepage).toBe(
      `${rootManifest.repository?.url}/tree/main/packages/${dir}#readme`,
    );
    expect(manifest.bugs?.url).toBe(`${rootManifest.repository?.url}/issues`);
    expect(manifest.keywords?.length ?? 0).toBeGreaterThan(0);
    expect(manifest.sideEffects).toBe(false);
  });

  it('has types for every entry under moduleResolution node10 (types, typesVersions)', () => {
    expect(manifest.types).toBe('./dist/index.d.ts');
    const subpaths = Object.keys(manifest.exports ?? {}).filter(
      (key) => key !== '.' && key !== './package.json',
    );
    const fallbacks = manifest.typesVersions?.['*'] ?? {};
    for (const subpath of subpaths) {
      const entry = (manifest.exports as Record<string, { types?: string }>)[subpath]!;
      expect(fallbacks[subpath.slice(2)], `${name}${subpath.slice(1)}`).toEqual([entry.types]);
    }
  });

  it("keeps the app's drivers, ORMs and @types out of its runtime dependencies", () => {
    const deps = manifest.dependencies ?? {};
    for (const dep of Object.keys(deps))
      expect(dep, `${name} depends on ${dep}`).not.toMatch(/^@types\//);
    if (name !== '@koyo/cli' && name !== '@koyo/testing') {
      for (const dep of APP_OWNED)
        expect(Object.keys(deps), `${name}: ${dep} belongs in peerDependencies`).not.toContain(dep);
    }
    for (const [dep, range] of Object.entries(deps)) {
      if (!range.startsWith('workspace:') && !range.startsWith('catalog:'))
        expect(range, `${name}: ${dep} pinned exactly`).toMatch(/^[\^~>]/);
    }
    // An exact catalog pin is what this repo's catalog holds: published as that exact version.
    for (const dep of APP_OWNED)
      expect(deps[dep] ?? '', `${name}: ${dep} from the catalog is an exact pin`).not.toBe(
        'catalog:',
      );
  });

  it('README links work on the npm website and show no machine paths', () => {
    const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    const relative = links.filter((link) => !/^(https?:|mailto:|#)/.test(link));
    expect(relative, 'relative links break on npmjs.com').toEqual([]);
    expect(readme).not.toMatch(/\/(work|tmp)\/[\w.-]+\/|\/Users\/\w+|\/root\//);
  });
});

describe('@koyo/knex and @koyo/drizzle', () => {
  it.each(['knex', 'drizzle'])(
    '%s: replication packages only as optional peers, behind the ./changes entry',
    (dir) => {
      const manifest = JSON.parse(
        readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'),
      ) as Manifest;
      for (const dep of ['@koyo/dispatcher', '@koyo/slot', '@koyo/pgoutput'])
        expect(Object.keys(manifest.dependencies ?? {})).not.toContain(dep);
      expect(manifest.peerDependenciesMeta?.['@koyo/dispatcher']?.optional).toBe(true);
      expect(Object.keys(manifest.exports ?? {})).toContain('./changes');
      const index = readFileSync(join(root, 'packages', dir, 'src', 'index.ts'), 'utf8');
      expect(index).not.toMatch(/@koyo\/(dispatcher|slot|pgoutput)|on-table/);
    },
  );

  it('the root has a LICENSE', () => {
    expect(existsSync(join(root, 'LICENSE'))).toBe(true);
  });
});
