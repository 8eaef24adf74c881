import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// Tests that need replicas or special server settings start their own cluster.
// compat: stream, acknowledgement and reconnect also run on the other supported majors in CI.
export default defineKoyoVitestConfig(import.meta.dirname, {
  replicas: 0,
  compat: ['test/acknowledge.test.ts', 'test/reconnect.test.ts'],
});
