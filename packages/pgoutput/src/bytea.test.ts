import pgTypes from 'pg-types';
import { describe, expect, it } from 'vitest';
import { parseByteaText } from './text-values.js';

const pgBytea = pgTypes.getTypeParser(17, 'text') as (value: string) => Buffer;

describe('bytea text values', () => {
  it('decode well-formed hex and escape output exactly like pg-types', () => {
    for (const text of [
      '\\x',
      '\\x00ff10',
      '\\xDEADbeef',
      'abc',
      'a\\\\b',
      '\\000\\377x',
      '\\\\\\101',
      '',
    ]) {
      expect(parseByteaText(text)).toEqual(pgBytea(text));
    }
  });

  it('refuse malformed input with an error instead of looping (a lone backslash, odd or bad hex)', () => {
    for (const text of ['\\q', 'ab\\', '\\12', '\\x0', '\\xzz', '\\\\\\9']) {
      expect(() => parseByteaText(text), text).toThrow(/malformed bytea/);
    }
  });
});
