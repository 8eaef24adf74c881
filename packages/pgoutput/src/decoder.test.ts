import { describe, expect, it } from 'vitest';
import { PgoutputDecoder } from './decoder.js';
import { PgoutputDecodeError } from './errors.js';
import { UNCHANGED_TOAST } from './messages.js';
import { rowBuilder } from './row-builder.js';

// Hand-built payloads only check the decoder's own logic here; the wire format itself is checked
// against payloads captured from PostgreSQL in test/.
function relation(oid: number, columns: [name: string, typeOid: number, key: boolean][]): Buffer {
  const parts: Buffer[] = [
    Buffer.from('R'),
    u32(oid),
    Buffer.from('public\0t\0d'),
    u16(columns.length),
  ];
  for (const [name, typeOid, key] of columns)
    parts.push(
      Buffer.from([key ? 1 : 0]),
      Buffer.from(`${name}\0`),
      u32(typeOid),
      u32(0xffff_ffff),
    );
  return Buffer.concat(parts);
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function text(value: string): Buffer {
  return Buffer.concat([Buffer.from('t'), u32(Buffer.byteLength(value)), Buffer.from(value)]);
}

describe('PgoutputDecoder', () => {
  it('validates its options', () => {
    expect(() => new PgoutputDecoder({ protocolVersion: 5 as 4 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => new PgoutputDecoder({ typeParsers: { x: String } as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => new PgoutputDecoder().decode('B' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });

  it('builds rows with any column name, __proto__ included, and marks unchanged TOAST', () => {
    const decoder = new PgoutputDecoder();
    decoder.decode(
      relation(1, [
        ['__proto__', 25, true],
        ['constructor', 25, false],
        ['b', 25, false],
      ]),
    );
    const insert = Buffer.concat([
      Buffer.from('I'),
      u32(1),
      Buffer.from('N'),
      u16(3),
      text('x'),
      Buffer.from('n'),
      Buffer.from('u'),
    ]);
    const message = decoder.decode(insert);
    if (message.tag !== 'insert') throw new Error(message.tag);
    expect(Object.getPrototypeOf(message.new)).toBe(Object.prototype);
    expect(Object.entries(message.new)).toEqual([
      ['__proto__', 'x'],
      ['constructor', null],
      ['b', UNCHANGED_TOAST],
    ]);
    expect(UNCHANGED_TOAST).toBe(Symbol.for('@koyo/pgoutput/unchanged-toast'));
  });

  it('reuses one row builder for the same columns (re-sent Relation messages)', () => {
    expect(rowBuilder(['a', 'b'], [0, 1])).toBe(rowBuilder(['a', 'b'], [0, 1]));
    expect(rowBuilder(['a', 'b'], [0, 1])).not.toBe(rowBuilder(['a', 'c'], [0, 1]));
    expect(rowBuilder(['a', 'b'], [1])).not.toBe(rowBuilder(['a', 'b'], [0, 1]));
  });

  it('builds the same rows without code generation', () => {
    const names = ['__proto__', 'a"b', 'c'];
    const fast = rowBuilder(names, [0, 1, 2], true)(['x', 'y', 'z']);
    const slow = rowBuilder(names, [0, 1, 2], false)(['x', 'y', 'z']);
    expect(Object.entries(slow)).toEqual(Object.entries(fast));
    expect(Object.getPrototypeOf(slow)).toBe(Object.prototype);
  });

  it('reports the code, offset and tag of malformed input and forgets nothing it knew', () => {
    const decoder = new PgoutputDecoder();
    decoder.decode(relation(7, [['id', 23, true]]));
    const error = (() => {
      try {
        decoder.decode(Buffer.concat([Buffer.from('I'), u32(8), Buffer.from('N')]));
      } catch (e) {
        return e as PgoutputDecodeError;
      }
      throw new Error('no error');
    })();
    expect(error).toBeInstanceOf(PgoutputDecodeError);
    expect(error).toMatchObject({
      name: 'PgoutputDecodeError',
      code: 'UNKNOWN_RELATION',
      offset: 1,
      tag: 'insert',
    });
    expect(
      decoder.decode(
        Buffer.concat([Buffer.from('I'), u32(7), Buffer.from('N'), u16(1), text('5')]),
      ),
    ).toMatchObject({ new: { id: 5 } });
    expect(() => decoder.decode(Buffer.from('Z'))).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_MESSAGE', offset: 0 }),
    );
    expect(() =>
      decoder.decode(
        Buffer.concat([
          Buffer.from('I'),
          u32(7),
          Buffer.from('N'),
          u16(1),
          Buffer.from('t'),
          u32(9),
        ]),
      ),
    ).toThrow(expect.objectContaining({ code: 'TRUNCATED', tag: 'insert' }));
    decoder.decode(relation(9, [['j', 114, false]]));
    expect(() =>
      decoder.decode(
        Buffer.concat([Buffer.from('I'), u32(9), Buffer.from('N'), u16(1), text('{')]),
      ),
    ).toThrow(expect.objectContaining({ code: 'INVALID_VALUE', tag: 'insert' }));
    decoder.reset();
    expect(decoder.getRelation(7)).toBeUndefined();
  });

  it('wraps a throwing custom parser in INVALID_VALUE with the cause', () => {
    const boom = new Error('boom');
    const decoder = new PgoutputDecoder({
      typeParsers: {
        25: () => {
          throw boom;
        },
      },
    });
    decoder.decode(relation(1, [['a', 25, false]]));
    expect(() =>
      decoder.decode(
        Buffer.concat([Buffer.from('I'), u32(1), Buffer.from('N'), u16(1), text('x')]),
      ),
    ).toThrow(expect.objectContaining({ code: 'INVALID_VALUE', cause: boom }));
  });
});
