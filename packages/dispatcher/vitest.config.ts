import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// The dispatcher needs no streaming replicas: only the primary's logical replication.
export default defineKoyoVitestConfig(import.meta.dirname, { replicas: 0 });
