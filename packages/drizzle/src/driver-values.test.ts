import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { drizzleTypeParsers, rawTypeOf, toDriverValue } from './driver-values.js';

const parse = (oid: number, text: string): unknown => pg.types.getTypeParser(oid, 'text')(text);

describe('rawTypeOf', () => {
  it.each([
    ['timestamp', 1114],
    ['timestamp (3)', 1114],
    ['timestamp(6) with time zone', 1184],
    ['timestamptz', 1184],
    ['date', 1082],
    ['interval', 1186],
    ['interval day to second(3)', 1186],
    ['date[]', 1182],
    ['timestamp with time zone[][]', 1185],
    ['numeric(10, 2)[]', 1231],
    ['numeric', undefined],
    ['text', undefined],
    ['integer[]', undefined],
  ])('%s -> %s', (sqlType, oid) => {
    expect(rawTypeOf(sqlType)).toBe(oid);
  });
});

describe('toDriverValue gives back the text Drizzle’s driver reads, from what pg parsed', () => {
  it.each([
    [1186, '1 day 02:03:04.5'],
    [1186, '1 year 2 mons'],
    [1186, '-1 days +02:00:00'],
    [1186, '00:00:00'],
    [1186, '3 days'],
    [1186, '-00:00:01.25'],
    [1082, '2024-02-29'],
    [1114, '2024-05-01 10:20:30.123'],
    [1114, '2024-05-01 10:20:30'],
    [1184, '2024-05-01 10:20:30.5+00'],
    [1184, 'infinity'],
    [1082, '-infinity'],
  ])('oid %s: %s', (oid, text) => {
    expect(toDriverValue(oid, parse(oid, text))).toBe(text);
  });

  it('maps arrays element by element', () => {
    expect(toDriverValue(1182, parse(1182, '{2024-01-01,2024-12-31}'))).toEqual([
      '2024-01-01',
      '2024-12-31',
    ]);
    expect(toDriverValue(1231, [1.5, 2])).toEqual(['1.5', '2']);
  });

  it('leaves text (drizzleTypeParsers) and other types alone', () => {
    expect(toDriverValue(1184, '2024-05-01 10:20:30.123456+00')).toBe(
      '2024-05-01 10:20:30.123456+00',
    );
    expect(toDriverValue(23, 5)).toBe(5);
    expect(drizzleTypeParsers[1184]!('x')).toBe('x');
    expect(
      Object.keys(drizzleTypeParsers)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([1082, 1114, 1115, 1182, 1184, 1185, 1186, 1187, 1231]);
  });
});
