import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// Tests that need replicas or special server settings start their own cluster.
export default defineKoyoVitestConfig(import.meta.dirname, { replicas: 0 });
