import { describe, expect, it } from 'vitest';
import { KoyoSlotError } from './errors.js';
import {
  assertPublicationName,
  assertSlotName,
  parseTableName,
  quoteIdent,
  quoteLiteral,
  quoteTableRef,
} from './identifiers.js';

describe('identifiers', () => {
  it('accepts slot names PostgreSQL accepts, and nothing else', () => {
    for (const ok of ['a', 'orders_sync', 'x1', 'a'.repeat(63)])
      expect(() => assertSlotName(ok)).not.toThrow();
    for (const bad of ['', 'A', 'a-b', 'a b', 'a'.repeat(64), "x'; --", 'é', 1, null, undefined]) {
      expect(() => assertSlotName(bad)).toThrow(KoyoSlotError);
    }
  });

  it('accepts quoted-safe publication names only', () => {
    for (const ok of ['koyo', 'Koyo_Orders', 'a-b', 'a$b'])
      expect(() => assertPublicationName(ok)).not.toThrow();
    for (const bad of ['', 'a"b', "a'b", 'a b', 'a,b', 'a'.repeat(64), 'a\u0000']) {
      expect(() => assertPublicationName(bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_IDENTIFIER' }),
      );
    }
  });

  it('parses table names and quotes them', () => {
    // Unqualified names stay unqualified: resolveTables finds them on the search_path.
    expect(parseTableName('orders')).toEqual({ schema: null, name: 'orders' });
    expect(parseTableName('shop.Orders')).toEqual({ schema: 'shop', name: 'Orders' });
    expect(parseTableName('"My Schema"."a.b""c"')).toEqual({ schema: 'My Schema', name: 'a.b"c' });
    expect(parseTableName({ schema: 'a.b', name: 'c.d' })).toEqual({ schema: 'a.b', name: 'c.d' });
    expect(parseTableName({ name: 'x' })).toEqual({ schema: null, name: 'x' });
    expect(quoteTableRef(parseTableName('"My Schema"."a.b""c"'))).toBe('"My Schema"."a.b""c"');
    expect(quoteTableRef(parseTableName('users'))).toBe('"users"');
    for (const bad of ['', 'a.b.c', '.a', 'a.', 'a\nb', 'x'.repeat(64), '"a', 'a"b', '"a"x']) {
      expect(() => parseTableName(bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_IDENTIFIER' }),
      );
    }
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("a\\'b")).toBe(" E'a\\\\''b'");
    expect(() => quoteLiteral('a\u0000')).toThrow(KoyoSlotError);
  });
});
