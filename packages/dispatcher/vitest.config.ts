import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// The dispatcher needs no streaming replicas: only the primary's logical replication.
// compat: the crash loop (reduced size), TOAST, truncate and messages also run on the other
// supported majors in CI.
export default defineKoyoVitestConfig(import.meta.dirname, {
  replicas: 0,
  compat: ['test/crash.test.ts', 'test/kinds.test.ts'],
});
