import { defineKoyoVitestConfig } from '@koyo/testing/vitest';

// Decoding needs no replicas: a primary per flavour is enough.
export default defineKoyoVitestConfig(import.meta.dirname, { replicas: 0 });
