#!/usr/bin/env node
// Prints one line, "tests: N passed, N failed", summed over every package's Vitest JSON report,
// after one line per failed test (package, file, name, the first line of its failure): CI shows
// only the tail of its log, so a failure must be readable there.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
const failures = [];
const firstLine = (text) =>
  String(text ?? '')
    // eslint-disable-next-line no-control-regex -- strip ANSI colours from Vitest's messages
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .find((line) => line.trim())
    ?.trim()
    .slice(0, 300) ?? '';
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
      const relative = file.name?.startsWith(root) ? file.name.slice(root.length + 1) : file.name;
      const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed');
      for (const test of failedTests)
        failures.push(
          `failed: ${relative} > ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`,
        );
      if (file.status === 'failed' && !failedTests.length) {
        failed += 1;
        failures.push(`failed to load: ${relative}: ${firstLine(file.message)}`);
      }
    }
    skipped += (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
  }
}
for (const line of failures) console.log(line);
if (missing.length)
  console.log(`no test report from: ${missing.join(', ')} (their tests did not run)`);
failed += missing.length;
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
