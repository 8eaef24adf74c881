import { defineKoyoVitestConfig } from './src/vitest.js';

export default defineKoyoVitestConfig(import.meta.dirname);
