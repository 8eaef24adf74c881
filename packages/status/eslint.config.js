import { koyoEslint } from '@koyo/eslint-config';

export default koyoEslint(import.meta.dirname);
