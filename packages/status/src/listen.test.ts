import { describe, expect, it } from 'vitest';
import { KoyoStatusError } from './errors.js';
import { checkExposure, isLoopback, parseListen, redactConnection } from './listen.js';

describe('parseListen', () => {
  it('takes [host:]port, loopback by default', () => {
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseListen('[::1]:9465')).toEqual({ host: '::1', port: 9465 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
  });
  it.each(['', 'abc', '70000', ':9464', '1.2.3.4:'])('refuses %j with INVALID_OPTION', (text) => {
    expect(() => parseListen(text, '--ui')).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('--ui') }),
    );
  });
});

describe('exposure', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost'])
      expect(isLoopback(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com'])
      expect(isLoopback(host)).toBe(false);
  });
  it('refuses a non-loopback host without allowRemote, warns with it', () => {
    const warnings: string[] = [];
    expect(() => checkExposure('0.0.0.0', false, 'The page', (m) => warnings.push(m))).toThrow(
      KoyoStatusError,
    );
    expect(warnings).toEqual([]);
    checkExposure('0.0.0.0', true, 'The page', (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringContaining('0.0.0.0')]);
    checkExposure('127.0.0.1', false, 'The page', (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
  });
});

describe('redactConnection', () => {
  it('never keeps a password', () => {
    expect(redactConnection('postgres://app:s3cret@db:5432/shop')).toBe(
      'postgres://app:***@db:5432/shop',
    );
    expect(
      redactConnection('postgres://app@db/shop?password=s3cret&sslmode=require'),
    ).not.toContain('s3cret');
    expect(redactConnection('host=db user=app password=s3cret dbname=shop')).toBe(
      'host=db user=app password=*** dbname=shop',
    );
    expect(redactConnection('postgres://app@db/shop')).toBe('postgres://app@db/shop');
  });
});
