import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// The relay needs only the primary's logical replication, and a nats-server from startNats().
export default defineKoyoVitestConfig(import.meta.dirname, { replicas: 0 });
