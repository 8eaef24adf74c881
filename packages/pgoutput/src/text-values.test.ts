import fc from 'fast-check';
import pgTypes from 'pg-types';
import { describe, expect, it } from 'vitest';
import { parseDateFast, parseIntFast, textValueParser } from './text-values.js';

const postgresDate = pgTypes.getTypeParser(1184, 'text') as (value: string) => unknown;

function viaBytes(
  text: string,
  parse: (buf: Buffer, start: number, end: number) => unknown,
): unknown {
  const buf = Buffer.from(`..${text}..`);
  return parse(buf, 2, buf.length - 2);
}

const two = (n: number): string => String(n).padStart(2, '0');

describe('text value fast paths equal pg-types', () => {
  it('parses every ISO date/time form PostgreSQL prints exactly like postgres-date', () => {
    const stamp = fc.record({
      year: fc.integer({ min: 1, max: 294276 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 28 }),
      time: fc.option(
        fc.record({
          h: fc.integer({ min: 0, max: 23 }),
          m: fc.integer({ min: 0, max: 59 }),
          s: fc.integer({ min: 0, max: 59 }),
          fraction: fc.option(fc.stringMatching(/^[0-9]{1,6}$/)),
          zone: fc.option(
            fc.tuple(
              fc.constantFrom('+', '-'),
              fc.integer({ min: 0, max: 15 }),
              fc.option(fc.integer({ min: 0, max: 59 })),
              fc.option(fc.integer({ min: 0, max: 59 })),
            ),
          ),
        }),
      ),
      bc: fc.boolean(),
    });
    fc.assert(
      fc.property(stamp, ({ year, month, day, time, bc }) => {
        let text = `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}`;
        if (time) {
          text += ` ${two(time.h)}:${two(time.m)}:${two(time.s)}${time.fraction ? `.${time.fraction}` : ''}`;
          if (time.zone) {
            const [sign, h, m, s] = time.zone;
            text += `${sign}${two(h)}${m === null ? '' : `:${two(m)}${s === null ? '' : `:${two(s)}`}`}`;
          }
        }
        if (bc) text += ' BC';
        const expected = postgresDate(text);
        const actual = viaBytes(text, (buf, start, end) =>
          parseDateFast(buf, start, end, postgresDate),
        );
        expect(actual).toStrictEqual(expected);
      }),
      { numRuns: 3000 },
    );
    for (const text of ['infinity', '-infinity', '2024-01-01T00:00:00Z', 'garbage', '']) {
      expect(
        viaBytes(text, (buf, start, end) => parseDateFast(buf, start, end, postgresDate)),
      ).toStrictEqual(postgresDate(text));
    }
  });

  it('parses int2/int4/oid text like parseInt', () => {
    const fallback = (text: string): unknown => parseInt(text, 10);
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.integer({ min: 0, max: 4294967295 }).map(String), fc.string()),
        (value) => {
          const text = String(value);
          expect(
            viaBytes(text, (buf, start, end) => parseIntFast(buf, start, end, fallback)),
          ).toStrictEqual(parseInt(text, 10));
        },
      ),
    );
  });

  it('uses pg-types for everything else, and custom parsers first', () => {
    expect(viaBytes('{1,NULL,3}', textValueParser(1007, undefined))).toEqual([1, null, 3]);
    expect(viaBytes('t', textValueParser(16, undefined))).toBe(true);
    expect(viaBytes('9223372036854775807', textValueParser(20, undefined))).toBe(
      '9223372036854775807',
    );
    expect(viaBytes('1.5', textValueParser(1700, undefined))).toBe('1.5');
    expect(viaBytes('1.5', textValueParser(1700, Number))).toBe(1.5);
    expect(viaBytes('{"a":1}', textValueParser(3802, undefined))).toEqual({ a: 1 });
  });
});
