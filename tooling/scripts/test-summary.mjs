#!/usr/bin/env node
// Prints one line, "tests: N passed, N failed", summed over every package's Vitest JSON report.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const dir of ['packages', 'apps', 'tooling']) {
  const base = join(root, dir);
  if (!existsSync(base)) continue;
  for (const name of readdirSync(base)) {
    const pkg = join(base, name, 'package.json');
    if (!existsSync(pkg)) continue;
    const scripts = JSON.parse(readFileSync(pkg, 'utf8')).scripts ?? {};
    const report = join(base, name, '.vitest-report.json');
    if (!existsSync(report)) {
      if (scripts.test) missing.push(`${dir}/${name}`);
      continue;
    }
    const json = JSON.parse(readFileSync(report, 'utf8'));
    passed += json.numPassedTests ?? 0;
    failed += json.numFailedTests ?? 0;
    // A file that failed to load has no failed test of its own: count it once.
    for (const file of json.testResults ?? []) {
      const anyFailed = (file.assertionResults ?? []).some((test) => test.status === 'failed');
      if (file.status === 'failed' && !anyFailed) failed += 1;
    }
    skipped += (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
  }
}
if (missing.length)
  console.log(`no test report from: ${missing.join(', ')} (their tests did not run)`);
failed += missing.length;
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
