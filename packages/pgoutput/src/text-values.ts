import { Buffer } from 'node:buffer';
import pgTypes from 'pg-types';
import { OID } from './oids.js';
import { latin1, utf8 } from './reader.js';

/** Turns the bytes `buf[start, end)` of one column value into a JS value. @internal */
export type ValueParser = (buf: Buffer, start: number, end: number) => unknown;

/** A parser of a value's text, as in `pg.types.setTypeParser`. */
export type TextParser = (value: string) => unknown;

type PgTypeParser = (value: string) => unknown;

function pgTextParser(oid: number): PgTypeParser {
  return pgTypes.getTypeParser(oid, 'text') as PgTypeParser;
}

/** OID of `bytea[]`. */
const BYTEA_ARRAY = 1001;

const arrayParser = (
  pgTypes as unknown as {
    arrayParser: {
      create(source: string, transform: (value: string | null) => unknown): { parse(): unknown };
    };
  }
).arrayParser;

/**
 * pg-types' bytea parser (`postgres-bytea`), rewritten to refuse malformed input: for a lone
 * backslash that is not followed by three octal digits or another backslash, the original never
 * advances and loops forever. Well-formed hex (`\x..`) and escape output decode to the same
 * bytes as pg-types.
 *
 * @internal
 */
export function parseByteaText(text: string): Buffer {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2);
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
      throw new Error('malformed bytea hex value');
    return Buffer.from(hex, 'hex');
  }
  const bytes: number[] = [];
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      bytes.push(c & 0xff);
      i += 1;
    } else if (text.charCodeAt(i + 1) === 0x5c) {
      bytes.push(0x5c);
      i += 2;
    } else if (/^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8) & 0xff);
      i += 4;
    } else {
      throw new Error(`malformed bytea escape at character ${i}`);
    }
  }
  return Buffer.from(bytes);
}

/** pg-types' identity parser, returned for every type it does not know. */
const NO_PARSE = pgTextParser(-1);

/** The parsers pg-types had when this module loaded, to tell defaults from user overrides. */
const DEFAULTS = new Map<number, PgTypeParser>(
  [
    OID.bool,
    OID.bytea,
    BYTEA_ARRAY,
    OID.int2,
    OID.int4,
    OID.oid,
    OID.int8,
    OID.float4,
    OID.float8,
    OID.json,
    OID.jsonb,
    OID.date,
    OID.timestamp,
    OID.timestamptz,
  ].map((oid) => [oid, pgTextParser(oid)]),
);

/** True when pg (through pg-types) currently parses `oid` with its builtin parser. */
export function isDefaultTextParser(oid: number): boolean {
  const current = pgTextParser(oid);
  return current === NO_PARSE || DEFAULTS.get(oid) === current;
}

/** The text of a value, unparsed (`parse: false`, and every type pg leaves as a string). */
export const parseString: ValueParser = utf8;

/**
 * The parser for a text-format value of type `oid`, giving exactly what `pg` gives for the same
 * type in a SELECT: a user parser from `typeParsers` first, then whatever pg-types (pg's own type
 * registry, including `pg.types.setTypeParser` overrides) has, with byte-level fast paths for the
 * builtin parsers of the hottest types.
 *
 * @internal
 */
export function textValueParser(oid: number, custom: TextParser | undefined): ValueParser {
  if (custom) return (buf, start, end) => custom(utf8(buf, start, end));
  const parser = pgTextParser(oid);
  if (parser === NO_PARSE) return parseString;
  if (DEFAULTS.get(oid) === parser) {
    switch (oid) {
      case OID.int2:
      case OID.int4:
      case OID.oid:
        return (buf, start, end) => parseIntFast(buf, start, end, parser);
      case OID.int8:
        // pg-types returns int8 text as is.
        return latin1;
      case OID.float4:
      case OID.float8:
        return (buf, start, end) => parseFloat(latin1(buf, start, end));
      case OID.bool:
        return (buf, start, end) => parseBoolFast(buf, start, end, parser);
      case OID.json:
      case OID.jsonb:
        return (buf, start, end) => JSON.parse(utf8(buf, start, end));
      case OID.date:
      case OID.timestamp:
      case OID.timestamptz:
        return (buf, start, end) => parseDateFast(buf, start, end, parser);
      case OID.bytea:
        return (buf, start, end) => parseByteaText(utf8(buf, start, end));
      case BYTEA_ARRAY:
        return (buf, start, end) =>
          arrayParser
            .create(utf8(buf, start, end), (value) =>
              value === null ? null : parseByteaText(value),
            )
            .parse();
    }
  }
  return (buf, start, end) => parser(utf8(buf, start, end));
}

/**
 * A byte-level fast path for one of pg-types' builtin parsers: the value of `buf[start, end)`,
 * or `fallback` (the real parser) applied to its text when the bytes are not the usual form.
 */
type FastTextParser = (buf: Buffer, start: number, end: number, fallback: PgTypeParser) => unknown;

/** The number the digits that {@link scanDigits} read last spell: its second result, without an allocation. */
let scannedValue = 0;

/**
 * Reads the run of ASCII digits that starts at `p` (`end` at the most), leaving the number they
 * spell in {@link scannedValue}; returns where the run ends.
 */
function scanDigits(buf: Buffer, p: number, end: number): number {
  let n = 0;
  while (p < end) {
    const digit = buf[p]! - 0x30;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
    p++;
  }
  scannedValue = n;
  return p;
}

/** `parseInt(text, 10)` for the canonical output of int2/int4/oid, without making a string. */
export const parseIntFast: FastTextParser = (buf, start, end, fallback) => {
  let p = start;
  let negative = false;
  if (p < end && buf[p] === 0x2d) {
    negative = true;
    p++;
  }
  if (p === end || end - p > 10) return fallback(utf8(buf, start, end));
  // One pass that checks and adds up the digits: measurably faster here than digitsEnd + digitsValue.
  let n = 0;
  for (; p < end; p++) {
    const digit = buf[p]! - 0x30;
    if (digit < 0 || digit > 9) return fallback(utf8(buf, start, end));
    n = n * 10 + digit;
  }
  return negative ? -n : n;
};

/** pg-types' bool parser for PostgreSQL's `t`/`f`. */
export const parseBoolFast: FastTextParser = (buf, start, end, fallback) => {
  if (end - start === 1) {
    const c = buf[start];
    if (c === 0x74) return true;
    if (c === 0x66) return false;
  }
  return fallback(utf8(buf, start, end));
};

function digits2(buf: Buffer, p: number): number {
  const a = buf[p]! - 0x30;
  const b = buf[p + 1]! - 0x30;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/**
 * `postgres-date` (pg-types' date/timestamp/timestamptz parser) for PostgreSQL's ISO output
 * (`YYYY-MM-DD[ HH:MM:SS[.ffffff][±HH[:MM[:SS]]]][ BC]`), reading the bytes directly and
 * building the Date with the same operations, so the result is identical. Anything else
 * (`infinity`, other DateStyles) goes to the real parser.
 */
export const parseDateFast: FastTextParser = (buf, start, end, fallback) => {
  let p = scanDigits(buf, start, end);
  let year = scannedValue;
  const yearDigits = p - start;
  let bc = false;
  let last = end;
  if (end - start > 3 && buf[end - 3] === 0x20 && buf[end - 2] === 0x42 && buf[end - 1] === 0x43) {
    bc = true;
    last = end - 3;
  }
  if (yearDigits < 4 || yearDigits > 7 || p + 6 > last || buf[p] !== 0x2d || buf[p + 3] !== 0x2d) {
    return fallback(utf8(buf, start, end));
  }
  const month = digits2(buf, p + 1);
  const day = digits2(buf, p + 4);
  p += 6;
  if (month < 0 || day < 0) return fallback(utf8(buf, start, end));
  if (bc) year = -(year - 1);
  if (p === last) {
    // Date only: local midnight, as postgres-date's getDate().
    const date = new Date(year, month - 1, day);
    if (year >= 0 && year < 100) date.setFullYear(year);
    return date;
  }
  if (p + 9 > last || buf[p] !== 0x20 || buf[p + 3] !== 0x3a || buf[p + 6] !== 0x3a) {
    return fallback(utf8(buf, start, end));
  }
  const hour = digits2(buf, p + 1);
  const minute = digits2(buf, p + 4);
  const second = digits2(buf, p + 7);
  p += 9;
  if (hour < 0 || minute < 0 || second < 0) return fallback(utf8(buf, start, end));
  let ms = 0;
  if (p < last && buf[p] === 0x2e) {
    const fracStart = p + 1;
    p = scanDigits(buf, fracStart, last);
    const fracDigits = p - fracStart;
    if (fracDigits === 0 || fracDigits > 9) return fallback(utf8(buf, start, end));
    // Same double as postgres-date's 1000 * parseFloat('.ffffff'): both round fraction/10^k once.
    ms = 1000 * (scannedValue / POW10[fracDigits]!);
  }
  if (p === last) {
    const date = new Date(year, month - 1, day, hour, minute, second, ms);
    if (year >= 0 && year < 100) date.setFullYear(year);
    return date;
  }
  const sign = buf[p];
  if ((sign !== 0x2b && sign !== 0x2d) || p + 3 > last) return fallback(utf8(buf, start, end));
  let offset = digits2(buf, p + 1) * 3600;
  p += 3;
  if (offset < 0) return fallback(utf8(buf, start, end));
  if (p < last) {
    const minutes = p + 3 <= last && buf[p] === 0x3a ? digits2(buf, p + 1) : -1;
    if (minutes < 0) return fallback(utf8(buf, start, end));
    offset += minutes * 60;
    p += 3;
    if (p < last) {
      const seconds = p + 3 === last && buf[p] === 0x3a ? digits2(buf, p + 1) : -1;
      if (seconds < 0) return fallback(utf8(buf, start, end));
      offset += seconds;
      p += 3;
    }
  }
  if (month < 1 || month > 12) return fallback(utf8(buf, start, end));
  // postgres-date builds Date.UTC(...) (fixing years 0-99) and then subtracts the offset; the
  // same arithmetic without the Date calls, with the same range checks (TimeClip) at both steps.
  const utc =
    daysFromCivil(year, month, day) * 86_400_000 +
    hour * 3_600_000 +
    minute * 60_000 +
    second * 1000 +
    Math.trunc(ms);
  if (!(Math.abs(utc) <= MAX_TIME)) return new Date(NaN);
  return new Date(offset === 0 ? utc : utc - (sign === 0x2d ? -offset : offset) * 1000);
};

/** ECMAScript's largest time value (TimeClip). */
const MAX_TIME = 8.64e15;

/** Days from 1970-01-01 to a proleptic Gregorian date (astronomical year, month 1-12), as Date.UTC counts them. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
