import { describe, expect, it } from 'vitest';
import { defineConfig, validateConfig } from './config.js';

describe('validateConfig', () => {
  it('accepts what defineConfig types, unchanged', () => {
    const config = defineConfig({
      connection: 'postgres://a@b/c',
      slot: 'koyo_app',
      publication: 'koyo_app',
      tables: ['users'],
      dispatcher: { concurrency: 4 },
      run: { progress: 'lines' },
    });
    expect(validateConfig(config, 'koyo.config.ts')).toBe(config);
  });

  it('names the file and the key of every mistake', () => {
    const bad = (value: unknown): string => {
      try {
        validateConfig(value, 'koyo.config.ts');
      } catch (error) {
        expect((error as { code: string }).code).toBe('CONFIG_INVALID');
        return (error as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(bad(undefined)).toMatch(/^koyo\.config\.ts: the default export must be an object/);
    expect(bad({ slott: 'x' })).toMatch(/unknown option "slott" \(did you mean "slot"\?\)/);
    expect(bad({ slot: 'Bad-Slot' })).toMatch(/slot must be 1-63 characters/);
    expect(bad({ publication: 'a b' })).toMatch(/publication must be/);
    expect(bad({ connection: '' })).toMatch(
      /connection is an empty string \(is the environment variable it reads set\?\)/,
    );
    expect(bad({ tables: 'users' })).toMatch(/tables must be an array/);
    expect(bad({ dispatcher: { slot: 'x' } })).toMatch(/set slot at the top level/);
    expect(bad({ run: { statsIntervalSeconds: -1 } })).toMatch(
      /run\.statsIntervalSeconds must be a number >= 0/,
    );
    expect(bad({ run: { colour: true } })).toMatch(/unknown option "run\.colour"/);
  });
});
