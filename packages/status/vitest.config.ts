import { defineKoyoVitestConfig } from '@koyo/testing/vitest';
import type { ViteUserConfig } from 'vitest/config';

const config = defineKoyoVitestConfig(import.meta.dirname, { replicas: 1 });
// Node loads external packages here: without the 'module' condition, as a plain Node app would.
// (@opentelemetry/api's 'module' build uses extensionless imports that only bundlers accept.)
const conditions = ['@koyo/source', 'node', 'development|production'];
const withPlainNode: ViteUserConfig = {
  ...config,
  ssr: {
    ...config.ssr,
    resolve: { ...config.ssr?.resolve, conditions, externalConditions: conditions },
  },
};
export default withPlainNode;
