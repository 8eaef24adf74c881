import { describe, expect, it } from 'vitest';
import {
  blockTransactions,
  readFromPrimary,
  readFromReplica,
  skipTransactions,
  withSession,
} from './context.js';
import { currentFrame } from './context.js';
import { KoyoRouterError } from './errors.js';
import { formatBytes, formatLsn, parseLsn } from './lsn.js';
import { createRouter } from './router.js';
import { isConnectionError } from './health.js';

// Nodes that are never queried: these tests cover option checks and scopes, not server behaviour.
const never = (name: string) => ({
  name,
  handle: name,
  probe: () => Promise.reject(new Error('not used in this test')),
});

describe('routing scopes', () => {
  it('nest and restore across awaits', async () => {
    expect(currentFrame().role).toBeUndefined();
    await readFromPrimary(async () => {
      expect(currentFrame().role).toBe('primary');
      await readFromReplica(async () => {
        await Promise.resolve();
        expect(currentFrame().role).toBe('replica');
      });
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(currentFrame().role).toBe('primary');
    });
    expect(currentFrame().role).toBeUndefined();
  });

  it('decide routing without running anything', () => {
    const router = createRouter({ primary: never('primary'), replicas: [never('replica1')] });
    try {
      expect(router.explain('SELECT 1')).toMatchObject({
        target: 'replica',
        node: 'replica1',
        reason: 'classified:SELECT',
      });
      expect(readFromPrimary(() => router.explain('SELECT 1'))).toMatchObject({
        target: 'primary',
        reason: 'read-from-primary',
      });
      expect(router.explain('SELECT 1 FOR SHARE')).toMatchObject({
        target: 'primary',
        reason: 'classified:FOR SHARE',
      });
      expect(router.inTransaction('tx', () => router.explain('SELECT 1'))).toMatchObject({
        target: 'transaction',
        reason: 'in-transaction',
      });
      expect(skipTransactions(() => router.transactionMode())).toBe('skip');
      expect(() => blockTransactions(() => router.transactionMode())).toThrow(KoyoRouterError);
      expect(router.transactionMode()).toBe('run');
    } finally {
      router.close();
    }
    const alone = createRouter({ primary: never('primary'), replicas: [] });
    expect(alone.explain('SELECT 1')).toMatchObject({ target: 'primary', reason: 'no-replicas' });
  });

  it('keeps read-your-writes tokens per session and rejects foreign ones', () => {
    const router = createRouter({
      primary: never('p'),
      replicas: [never('r')],
      readYourWrites: { mode: 'window', ms: 1000 },
    });
    try {
      withSession(() => expect(router.readYourWritesToken()).toBeUndefined());
      router.withToken(`koyo1.at.${Date.now()}`, () => {
        expect(router.readYourWritesToken()).toMatch(/^koyo1\.at\./);
        expect(router.explain('SELECT 1')).toMatchObject({
          target: 'primary',
          reason: 'read-your-writes',
        });
      });
      for (const bad of ['x', 'koyo1.lsn.zz/1', 'koyo1.at.abc', 'koyo2.at.1']) {
        expect(() => router.withToken(bad, () => 1)).toThrow(
          expect.objectContaining({ code: 'INVALID_TOKEN' }),
        );
      }
    } finally {
      router.close();
    }
  });

  it('validates options with messages that say what to pass', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ strategy: 'fastest' }, /strategy: expected 'random'/],
      [{ fallback: 'replica' }, /fallback/],
      [{ ejectMs: -1 }, /ejectMs/],
      [{ maxLag: {} }, /maxLag/],
      [{ readYourWrites: { mode: 'always' } }, /readYourWrites/],
      [{ readYourWrites: { mode: 'window' } }, /needs ms/],
    ];
    for (const [options, message] of bad) {
      expect(() => createRouter({ primary: never('p'), replicas: [], ...options })).toThrow(
        message,
      );
    }
    expect(() =>
      createRouter({ primary: never('p'), replicas: [{ ...never('r'), weight: 0 }] }),
    ).toThrow(/weight/);
  });
});

describe('helpers', () => {
  it('parse and format LSNs', () => {
    expect(parseLsn('0/16B3748')).toBe(23803720n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(() => parseLsn('nope')).toThrow(KoyoRouterError);
    expect(formatBytes(1024 * 1024)).toBe('1MB');
    expect(formatBytes(1500)).toBe('1500B');
  });

  it('tell connection errors from statement errors', () => {
    expect(isConnectionError({ code: '08006' })).toBe(true);
    expect(isConnectionError({ code: '57P01' })).toBe(true);
    expect(isConnectionError({ code: 'ECONNREFUSED' })).toBe(true);
    expect(isConnectionError({ code: 'CONNECTION_CLOSED' })).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError({ code: '23505' })).toBe(false);
    expect(isConnectionError({ code: '25006' })).toBe(false);
    expect(isConnectionError(null)).toBe(false);
  });
});
