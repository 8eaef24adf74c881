import { describe, expect, it } from 'vitest';
import { KoyoDrizzleError } from './errors.js';
import { withRouting } from './with-routing.js';

describe('KoyoDrizzleError codes', () => {
  it('a bad argument keeps code INVALID_ARGUMENT and is also INVALID_OPTION, the cross-package name', () => {
    let caught: unknown;
    try {
      withRouting({} as never, []);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KoyoDrizzleError);
    const error = caught as KoyoDrizzleError;
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.codes).toEqual(['INVALID_ARGUMENT', 'INVALID_OPTION']);
    expect(error.is('INVALID_OPTION')).toBe(true);
    expect(error.is('INVALID_ARGUMENT')).toBe(true);
    expect(error.is('UNSUPPORTED_DRIVER')).toBe(false);
    // Not an own property: errors compare and serialise as before.
    expect(Object.keys(error)).not.toContain('codes');
  });

  it('other codes have one name', () => {
    const error = new KoyoDrizzleError('UNSUPPORTED_DRIVER', 'another driver');
    expect(error.codes).toEqual(['UNSUPPORTED_DRIVER']);
    expect(error.is('INVALID_OPTION')).toBe(false);
    expect(new KoyoDrizzleError('INVALID_OPTION', 'x').is('INVALID_ARGUMENT')).toBe(true);
  });
});
