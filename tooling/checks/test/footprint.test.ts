// Lean dependency graphs, measured on what npm installs from the packed tarballs: routing-only
// installs of @koyo/knex and @koyo/drizzle pull no replication package and stay under 1 MB beyond
// the ORM; the app's own pg is the only pg; no @types package is installed at run time.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { measure, SCENARIOS } from '../footprint.mjs';

const REPLICATION = ['@koyo/dispatcher', '@koyo/slot', '@koyo/pgoutput'];

/** Every installed copy of `name` (top level and nested), as paths. */
function copiesOf(dir: string, name: string): string[] {
  const found: string[] = [];
  const walk = (nodeModules: string): void => {
    if (!existsSync(nodeModules)) return;
    if (existsSync(join(nodeModules, name, 'package.json'))) found.push(join(nodeModules, name));
    for (const entry of readdirSync(nodeModules)) {
      const dirs = entry.startsWith('@')
        ? readdirSync(join(nodeModules, entry)).map((sub) => join(nodeModules, entry, sub))
        : [join(nodeModules, entry)];
      for (const pkg of dirs) walk(join(pkg, 'node_modules'));
    }
  };
  walk(join(dir, 'node_modules'));
  return found;
}

test('installs from the packed tarballs are lean', () => {
  const wanted = [
    '@koyo/knex, routing only',
    '@koyo/drizzle, routing only',
    '@koyo/dispatcher',
    '@koyo/cli',
  ];
  const seen: Record<string, { copiesOfPg: number; replication: string[]; types: string[] }> = {};
  const rows = measure(
    SCENARIOS.filter((s) => wanted.includes(s.label)),
    (scenario: { label: string }, dir: string) => {
      seen[scenario.label] = {
        copiesOfPg: copiesOf(dir, 'pg').length,
        replication: REPLICATION.filter((name) => copiesOf(dir, name).length > 0),
        types: existsSync(join(dir, 'node_modules', '@types'))
          ? readdirSync(join(dir, 'node_modules', '@types'))
          : [],
      };
    },
  );
  for (const row of rows) {
    if (row.limitBytes !== undefined)
      expect(row.addedBytes, row.label).toBeLessThan(row.limitBytes);
    expect(seen[row.label]!.types, `${row.label}: @types packages installed at run time`).toEqual(
      [],
    );
    expect(seen[row.label]!.copiesOfPg, `${row.label}: copies of pg`).toBe(1);
  }
  expect(seen['@koyo/knex, routing only']!.replication).toEqual([]);
  expect(seen['@koyo/drizzle, routing only']!.replication).toEqual([]);
});
