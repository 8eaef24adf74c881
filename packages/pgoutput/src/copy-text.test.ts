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

describe('CopyTextRowDecoder.decode text columns', () => {
  const decoder = new CopyTextRowDecoder([
    { name: 'id', typeOid: 20 }, // int8: Latin-1 text
    { name: 'n', typeOid: 23 },
    { name: 't', typeOid: 25 }, // text: UTF-8
    { name: 'u', typeOid: 1700 }, // numeric: UTF-8 text
  ]);
  /** What decoding each column's bytes on its own gives (the decoder's per-column path). */
  const expected = (id: Buffer, n: number, t: Buffer, u: string) => ({
    id: id.toString('latin1'),
    n,
    t: t.toString('utf8'),
    u,
  });
  const line = (...parts: Buffer[]) =>
    Buffer.concat([...parts.flatMap((p) => [p, TAB]).slice(0, -1), NL]);
  const TAB = Buffer.from('\t');
  const NL = Buffer.from('\n');

  it.each([
    ['ASCII', Buffer.from('12345'), Buffer.from('hello world, a long text value')],
    [
      'multi-byte UTF-8 (characters fewer than bytes)',
      Buffer.from('7'),
      Buffer.from('café 😀 日本'),
    ],
    [
      'a lone invalid byte (one U+FFFD per byte: aligned)',
      Buffer.from('8'),
      Buffer.from([0x61, 0xff, 0x62]),
    ],
    [
      'a truncated sequence (one U+FFFD for two bytes)',
      Buffer.from('9'),
      Buffer.from([0x61, 0xe2, 0x82, 0x62]),
    ],
    [
      'a high byte in the Latin-1 column of an aligned row',
      Buffer.from([0x31, 0xe9]),
      Buffer.from('x'),
    ],
    [
      'a high byte in the Latin-1 column beside UTF-8 text',
      Buffer.from([0x31, 0xe9]),
      Buffer.from('é'),
    ],
  ])('gives each column what decoding its bytes alone gives: %s', (_name, id, t) => {
    const row = line(id, Buffer.from('42'), t, Buffer.from('3.25'));
    const offset = Buffer.concat([Buffer.from('junk'), row]);
    expect(decoder.decode(row)).toStrictEqual(expected(id, 42, t, '3.25'));
    expect(decoder.decode(offset, 4, offset.length)).toStrictEqual(expected(id, 42, t, '3.25'));
  });

  it('unescapes an escaped text column and keeps NULLs', () => {
    const row = Buffer.from('1\t\\N\ta\\tb\\\\c é\t\\N\n');
    expect(decoder.decode(row)).toStrictEqual({ id: '1', n: null, t: 'a\tb\\c é', u: null });
  });
});

describe('CopyTextRowDecoder.decode plain rows', () => {
  const decoder = new CopyTextRowDecoder([
    { name: 'id', typeOid: 20 },
    { name: 'n', typeOid: 23 },
    { name: 't', typeOid: 25 },
  ]);

  it.each([
    ['1\t\\N\tx\n', { id: '1', n: null, t: 'x' }],
    ['\\N\t2\t\\N\n', { id: null, n: 2, t: null }],
    ['3\t4\t\n', { id: '3', n: 4, t: '' }],
    ['5\t6\ta\\Nb\n', { id: '5', n: 6, t: 'aNb' }],
    ['7\t8\t\\N\\N\n', { id: '7', n: 8, t: 'NN' }],
  ])('decodes %j', (line, row) => {
    expect(decoder.decode(Buffer.from(line))).toStrictEqual(row);
  });

  it.each(['1\t2\n', '1\t2\t3\t4\n', '1\n'])('refuses %j with the column count', (line) => {
    expect(() => decoder.decode(Buffer.from(line))).toThrow(/column\(s\)|more column/);
  });

  it('reports a value its parser rejects with its column and offset', () => {
    const strict = new CopyTextRowDecoder(
      [
        { name: 'a', typeOid: 25 },
        { name: 'b', typeOid: 23 },
      ],
      {
        typeParsers: {
          23: (text) => {
            throw new Error(`bad ${text}`);
          },
        },
      },
    );
    expect(() => strict.decode(Buffer.from('xy\t12\n'))).toThrow(
      'Cannot parse the value of column b at offset 3: bad 12.',
    );
  });
});

describe('CopyTextRowDecoder.decode long rows', () => {
  it('decodes a row longer than one string per row allows column by column, to the same values', () => {
    const decoder = new CopyTextRowDecoder([
      { name: 'id', typeOid: 20 },
      { name: 't', typeOid: 25 },
      { name: 'u', typeOid: 25 },
    ]);
    const long = 'é'.repeat(20_000);
    const row = Buffer.from(`9\t${long}\tx\\ty\n`);
    expect(decoder.decode(row)).toStrictEqual({ id: '9', t: long, u: 'x\ty' });
  });
});

describe('CopyTextRowDecoder.decode with skipped columns', () => {
  const columns = [
    { name: 't', typeOid: 25 },
    { name: 'id', typeOid: 23 },
    { name: 'at', typeOid: 1184 },
    { name: 'k', typeOid: 20 },
  ];
  const full = new CopyTextRowDecoder(columns);
  const keys = new CopyTextRowDecoder(
    columns.map((c) => ({ ...c, skip: c.name === 't' || c.name === 'at' })),
  );
  const onlyText = new CopyTextRowDecoder(columns.map((c) => ({ ...c, skip: c.name !== 't' })));

  it.each([
    'plain\t1\t2024-06-01 12:34:56.789+02\t10\n',
    'tab\\there\\\\ and \\N\t2\t\\N\t11\n',
    '\\N\t3\t2024-06-01 00:00:00+00\t\\N\n',
    'café 😀\t4\tinfinity\t12\n',
    `${'é'.repeat(20_000)}\t5\t2024-06-01 00:00:00+00\t13\n`,
  ])('decodes the kept columns of %j to the values a full decode gives them', (line) => {
    const row = full.decode(Buffer.from(line));
    expect(keys.decode(Buffer.from(line))).toStrictEqual({ id: row.id, k: row.k });
    expect(onlyText.decode(Buffer.from(line))).toStrictEqual({ t: row.t });
    expect(keys.texts(Buffer.from(line))).toStrictEqual(full.texts(Buffer.from(line)));
  });

  it('does not parse a skipped column, and still checks the column count', () => {
    const strict = new CopyTextRowDecoder(
      [
        { name: 'id', typeOid: 23 },
        { name: 'v', typeOid: 16, skip: true },
      ],
      {
        typeParsers: {
          16: () => {
            throw new Error('parsed');
          },
        },
      },
    );
    expect(strict.decode(Buffer.from('7\tt\n'))).toStrictEqual({ id: 7 });
    expect(() => strict.decode(Buffer.from('7\n'))).toThrow(/column\(s\)/);
    expect(() => strict.decode(Buffer.from('7\tt\tx\n'))).toThrow(/more column/);
  });
});
