import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

export default defineKoyoVitestConfig(import.meta.dirname, { replicas: 0 });
