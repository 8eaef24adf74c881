import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// compat: routing, lag and read-your-writes also run on the other supported majors in CI.
export default defineKoyoVitestConfig(import.meta.dirname, {
  compat: ['test/gem.test.ts', 'test/cluster-events.test.ts'],
});
