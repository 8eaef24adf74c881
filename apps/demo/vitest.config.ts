import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// The tour starts its own cluster of the project's flavour; the shared one is not needed.
export default defineKoyoVitestConfig(import.meta.dirname, { replicas: 0 });
