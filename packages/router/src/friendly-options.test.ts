// Small frictions a stranger met: an empty connection string was accepted (and connected to the
// driver's defaults), and explain() printed the whole pool.
import { describe, expect, it } from 'vitest';
import { KoyoRouterError } from './errors.js';
import { createRoutedPool } from './pg.js';
import { createRoutedSql } from './postgres.js';
import { createRouter } from './router.js';

const never = (name: string) => ({
  name,
  handle: { aWholePool: true },
  probe: () => Promise.reject(new Error('not used in this test')),
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KoyoRouterError);
    expect((error as Error).message).toMatch(/connection string is empty/);
    return (error as KoyoRouterError).code;
  }
  return undefined;
}

describe('empty connection strings are refused', () => {
  it('by createRoutedPool (primary and replicas)', () => {
    expect(codeOf(() => createRoutedPool({ primary: '' }))).toBe('INVALID_OPTION');
    expect(codeOf(() => createRoutedPool({ primary: 'postgres://h/db', replicas: ['  '] }))).toBe(
      'INVALID_OPTION',
    );
  });

  it('by createRoutedSql (primary and replicas)', () => {
    expect(codeOf(() => createRoutedSql({ primary: '' }))).toBe('INVALID_OPTION');
    expect(codeOf(() => createRoutedSql({ primary: 'postgres://h/db', replicas: [''] }))).toBe(
      'INVALID_OPTION',
    );
  });
});

describe('explain()', () => {
  it('returns a plain decision without the node handle', () => {
    const router = createRouter({ primary: never('primary'), replicas: [never('replica1')] });
    try {
      const decision = router.explain('SELECT 1');
      expect(Object.keys(decision).sort()).toEqual([
        'classification',
        'node',
        'reason',
        'replica',
        'target',
      ]);
      expect(JSON.stringify(decision)).not.toContain('aWholePool');
    } finally {
      void router.close();
    }
  });
});
