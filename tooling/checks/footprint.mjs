#!/usr/bin/env node
// Install footprint of each published package as a stranger gets it: the packed tarballs
// installed with plain npm into a clean project, with the peers an app of that kind has.
// "koyo adds" = the install minus the same install without the koyo package (the app's own
// driver or ORM). Prints a Markdown table (for BENCHMARKS.md); --json prints the rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { footprint, npmInstall, packAll, publishedPackages } from './lib/packages.mjs';

/** `names` and the @koyo packages they depend on (dependencies, not peers), as npm would fetch them. */
function withKoyoDependencies(names) {
  const manifests = new Map(publishedPackages().map(({ manifest }) => [manifest.name, manifest]));
  const all = new Set();
  const add = (name) => {
    if (all.has(name)) return;
    all.add(name);
    for (const dep of Object.keys(manifests.get(name)?.dependencies ?? {}))
      if (manifests.has(dep)) add(dep);
  };
  names.forEach(add);
  return [...all];
}

/** What each row installs: koyo packages (from tarballs) and the app's own packages (npm). */
export const SCENARIOS = [
  { label: '@koyo/pgoutput', koyo: ['@koyo/pgoutput'], app: [] },
  { label: '@koyo/slot', koyo: ['@koyo/slot', '@koyo/pgoutput'], app: ['pg'] },
  {
    label: '@koyo/dispatcher',
    koyo: ['@koyo/dispatcher', '@koyo/slot', '@koyo/pgoutput'],
    app: ['pg'],
  },
  { label: '@koyo/router (pg)', koyo: ['@koyo/router'], app: ['pg'] },
  {
    label: '@koyo/knex, routing only',
    koyo: ['@koyo/knex', '@koyo/router'],
    app: ['knex', 'pg'],
    limitBytes: 1024 * 1024,
  },
  {
    label: '@koyo/drizzle, routing only',
    koyo: ['@koyo/drizzle', '@koyo/router'],
    app: ['drizzle-orm', 'pg'],
    limitBytes: 1024 * 1024,
  },
  {
    label: '@koyo/knex + change handlers',
    koyo: ['@koyo/knex', '@koyo/router', '@koyo/dispatcher', '@koyo/slot', '@koyo/pgoutput'],
    app: ['knex', 'pg'],
  },
  {
    label: '@koyo/cli',
    koyo: ['@koyo/cli', '@koyo/status', '@koyo/dispatcher', '@koyo/slot', '@koyo/pgoutput'],
    app: [],
  },
];

/** Installs each scenario twice (with and without koyo) and measures both. */
export function measure(scenarios = SCENARIOS, inspect = () => undefined) {
  const work = mkdtempSync(join(tmpdir(), 'koyo-footprint-'));
  try {
    const tarballs = packAll(work);
    return scenarios.map((scenario) => {
      const withKoyo = mkdtempSync(join(work, 'with-'));
      npmInstall(withKoyo, [
        ...withKoyoDependencies(scenario.koyo).map((name) => tarballs[name]),
        ...scenario.app,
      ]);
      const baseline = mkdtempSync(join(work, 'app-'));
      if (scenario.app.length > 0) npmInstall(baseline, scenario.app);
      const total = footprint(withKoyo);
      const appOnly = footprint(baseline);
      inspect(scenario, withKoyo);
      return {
        ...scenario,
        dir: withKoyo,
        total,
        appOnly,
        addedBytes: total.bytes - appOnly.bytes,
        addedPackages: total.packages - appOnly.packages,
      };
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(2);

if (import.meta.main ?? process.argv[1] === import.meta.filename) {
  const rows = measure();
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(
      '| install | app packages | koyo adds (MB) | koyo adds (packages) | total (MB) | total packages |',
    );
    console.log('| --- | --- | ---: | ---: | ---: | ---: |');
    for (const row of rows) {
      console.log(
        `| ${row.label} | ${row.app.length > 0 ? row.app.join(', ') : 'none'} | ${mb(row.addedBytes)} | ${row.addedPackages} | ${mb(row.total.bytes)} | ${row.total.packages} |`,
      );
    }
  }
}
