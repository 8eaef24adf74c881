import { describe, expect, it } from 'vitest';
import { CHANGE_KINDS, isChangeSource } from './change-source.js';

describe('isChangeSource', () => {
  it('accepts an object with onTable and refuses anything else', () => {
    expect(isChangeSource({ onTable: () => () => undefined })).toBe(true);
    for (const value of [null, undefined, 'dispatcher', 1, {}, { onTable: 'x' }])
      expect(isChangeSource(value)).toBe(false);
  });

  it('lists every change kind once, frozen', () => {
    expect([...CHANGE_KINDS]).toEqual(['insert', 'update', 'delete', 'truncate', 'snapshot']);
    expect(Object.isFrozen(CHANGE_KINDS)).toBe(true);
  });
});
