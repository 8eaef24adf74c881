import { describe, expect, it } from 'vitest';
import { KoyoSlotError } from './errors.js';
import { assertPublicationName, assertSlotName, parseTableName, quoteIdent, quoteLiteral } from './identifiers.js';

describe('identifiers', () => {
  it('accepts slot names PostgreSQL accepts, and nothing else', () => {
    for (const ok of ['a', 'orders_sync', 'x1', 'a'.repeat(63)]) expect(() => assertSlotName(ok)).not.toThrow();
    for (const bad of ['', 'A', 'a-b', 'a b', 'a'.repeat(64), "x'; --", 'é', 1, null, undefined]) {
      expect(() => assertSlotName(bad)).toThrow(KoyoSlotError);
    }
  });

  it('accepts quoted-safe publication names only', () => {
    for (const ok of ['koyo', 'Koyo_Orders', 'a-b', 'a$b']) expect(() => assertPublicationName(ok)).not.toThrow();
    for (const bad of ['', 'a"b', "a'b", 'a b', 'a,b', 'a'.repeat(64), 'a\u0000']) {
      expect(() => assertPublicationName(bad)).toThrow(expect.objectContaining({ code: 'INVALID_IDENTIFIER' }));
    }
  });

  it('parses table names and quotes them', () => {
    expect(parseTableName('orders')).toEqual({ schema: 'public', name: 'orders' });
    expect(parseTableName('shop.Orders')).toEqual({ schema: 'shop', name: 'Orders' });
    expect(parseTableName({ schema: 'a.b', name: 'c.d' })).toEqual({ schema: 'a.b', name: 'c.d' });
    expect(parseTableName({ name: 'x' })).toEqual({ schema: 'public', name: 'x' });
    for (const bad of ['', 'a.b.c', '.a', 'a.', 'a\nb', 'x'.repeat(64)]) expect(() => parseTableName(bad)).toThrow(KoyoSlotError);
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(() => quoteLiteral('a\u0000')).toThrow(KoyoSlotError);
  });
});
