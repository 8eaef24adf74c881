import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { CopyTextRowDecoder } from './copy-text.js';

describe('CopyTextRowDecoder.texts', () => {
  it('unescapes a value longer than its scratch buffer on a fresh decoder', () => {
    const decoder = new CopyTextRowDecoder([
      { name: 'k', typeOid: 25 },
      { name: 'v', typeOid: 25 },
    ]);
    const long = `${'a'.repeat(1000)}\tb`;
    const line = Buffer.from(`${long.replace('\t', '\\t')}\tx\n`);
    expect(decoder.texts(line)).toStrictEqual([long, 'x']);
    expect(decoder.decode(line)).toStrictEqual({ k: long, v: 'x' });
  });
});
