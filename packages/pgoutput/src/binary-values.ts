import type { Buffer } from 'node:buffer';
import pgTypes from 'pg-types';
import { KoyoPgoutputError } from './errors.js';
import { OID } from './oids.js';
import { copyBytes, utf8 } from './reader.js';
import { isDefaultTextParser, type TextParser, type ValueParser } from './text-values.js';
import { PG_EPOCH_UNIX_MILLIS } from './time.js';

const MS_PER_DAY = 86_400_000;
const US_PER_DAY = 86_400_000_000;
const TWO_32 = 4_294_967_296;
const INT32_MAX = 0x7fff_ffff;
const INT32_MIN = -0x8000_0000;

/** The raw bytes of a binary value, copied (every type without a binary decoder). @internal */
export const parseBytes: ValueParser = copyBytes;

function expectLength(buf: Buffer, start: number, end: number, length: number, type: string): void {
  if (end - start !== length) {
    throw new KoyoPgoutputError(
      'INVALID_VALUE',
      `A binary ${type} value is ${length} bytes long, this one has ${end - start}.`,
      { offset: start },
    );
  }
}

function int32At(buf: Buffer, p: number): number {
  return (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
}

/** µs since 2000-01-01 as whole days plus µs of the day (exact, without BigInt). */
function splitMicros(buf: Buffer, p: number): { infinite: number; days: number; micros: number } {
  const hi = int32At(buf, p);
  const lo = int32At(buf, p + 4) >>> 0;
  if (hi === INT32_MAX && lo === 0xffff_ffff) return { infinite: Infinity, days: 0, micros: 0 };
  if (hi === INT32_MIN && lo === 0) return { infinite: -Infinity, days: 0, micros: 0 };
  const high = hi * TWO_32; // exact
  let days = Math.floor((high + lo) / US_PER_DAY);
  // days * US_PER_DAY has at most 51 significant bits, so this difference is exact.
  let micros = high - days * US_PER_DAY + lo;
  while (micros < 0) {
    days -= 1;
    micros += US_PER_DAY;
  }
  while (micros >= US_PER_DAY) {
    days += 1;
    micros -= US_PER_DAY;
  }
  return { infinite: 0, days, micros };
}

/** Calendar fields (proleptic Gregorian, astronomical year) of a day count since 2000-01-01. */
function civil(days: number): { year: number; month: number; day: number } {
  const utc = new Date(PG_EPOCH_UNIX_MILLIS + days * MS_PER_DAY);
  return { year: utc.getUTCFullYear(), month: utc.getUTCMonth(), day: utc.getUTCDate() };
}

function localDate(days: number): Date {
  const { year, month, day } = civil(days);
  const date = new Date(year, month, day);
  if (year >= 0 && year < 100) date.setFullYear(year);
  return date;
}

function binaryDate(buf: Buffer, start: number, end: number): Date | number {
  expectLength(buf, start, end, 4, 'date');
  const days = int32At(buf, start);
  if (days === INT32_MAX) return Infinity;
  if (days === INT32_MIN) return -Infinity;
  return localDate(days);
}

function binaryTimestamp(buf: Buffer, start: number, end: number): Date | number {
  expectLength(buf, start, end, 8, 'timestamp');
  const { infinite, days, micros } = splitMicros(buf, start);
  if (infinite !== 0) return infinite;
  const { year, month, day } = civil(days);
  const seconds = Math.floor(micros / 1e6);
  // postgres-date's 1000 * parseFloat('.ffffff') is this same double.
  const ms = 1000 * ((micros - seconds * 1e6) / 1e6);
  const date = new Date(
    year,
    month,
    day,
    Math.floor(seconds / 3600),
    Math.floor(seconds / 60) % 60,
    seconds % 60,
    ms,
  );
  if (year >= 0 && year < 100) date.setFullYear(year);
  return date;
}

function binaryTimestamptz(buf: Buffer, start: number, end: number): Date | number {
  expectLength(buf, start, end, 8, 'timestamptz');
  const { infinite, days, micros } = splitMicros(buf, start);
  if (infinite !== 0) return infinite;
  const seconds = Math.floor(micros / 1e6);
  const ms = Math.trunc(1000 * ((micros - seconds * 1e6) / 1e6));
  return new Date(PG_EPOCH_UNIX_MILLIS + days * MS_PER_DAY + seconds * 1000 + ms);
}

const SCRATCH = new DataView(new ArrayBuffer(8));

/** True when the double `x` equals the decimal `digits * 10^k` exactly. */
function equalsDecimal(x: number, digits: bigint, k: number): boolean {
  SCRATCH.setFloat64(0, x);
  const high = SCRATCH.getUint32(0);
  const exponent = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xf_ffff) << 32n) | BigInt(SCRATCH.getUint32(4));
  if (exponent !== 0) mantissa |= 1n << 52n;
  const shift = (exponent === 0 ? 1 : exponent) - 1075; // x = mantissa * 2^shift
  let other = digits;
  if (shift >= 0) mantissa <<= BigInt(shift);
  else other <<= BigInt(-shift);
  if (k >= 0) other *= 10n ** BigInt(k);
  else mantissa *= 10n ** BigInt(-k);
  return mantissa === other;
}

/** The float32 next to the positive float32 `value`, one step up or down. */
function float32Step(value: number, step: 1 | -1): number {
  SCRATCH.setFloat32(0, value);
  SCRATCH.setUint32(0, SCRATCH.getUint32(0) + step);
  return SCRATCH.getFloat32(0);
}

/**
 * PostgreSQL's float4 output (12+, `extra_float_digits` 1, Ryu): the shortest decimal strictly
 * inside the interval of reals that read back as this float32 (PostgreSQL does not accept its
 * bounds), the closest to it among those, ties to an even last digit.
 */
export function float4Text(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  if (!Number.isFinite(value)) return String(value);
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  const lowerBound = (abs + float32Step(abs, -1)) / 2; // exact: 25 significant bits
  const next = float32Step(abs, 1);
  // Above the largest float32 the gap continues as below it (values there round to Infinity).
  const upperBound = next === Infinity ? abs + (abs - float32Step(abs, -1)) / 2 : (abs + next) / 2;
  for (let precision = 1; precision <= 9; precision++) {
    // The nearest decimal with `precision` digits (ties away from zero), as digits * 10^k.
    const [mantissa = '0', exponent = '0'] = abs.toExponential(precision - 1).split('e');
    const digits = BigInt(mantissa.replace('.', ''));
    const k = Number(exponent) - (precision - 1);
    const reads = (d: bigint): boolean => {
      if (d <= 0n) return false;
      const x = Number(`${d}e${k}`);
      if (x <= lowerBound || x >= upperBound)
        return (
          (x === lowerBound || x === upperBound) &&
          Math.fround(x) === abs &&
          !equalsDecimal(x, d, k)
        );
      return true;
    };
    let chosen: bigint | undefined;
    if (reads(digits)) {
      chosen = digits;
      // A tie with the next lower decimal: Ryu takes the even one.
      if (digits % 2n === 1n && reads(digits - 1n) && equalsDecimal(abs * 2, digits * 2n - 1n, k))
        chosen = digits - 1n;
    } else {
      // Near a power of two the interval is lopsided: a neighbour may be inside it.
      const lower = reads(digits - 1n);
      const upper = reads(digits + 1n);
      if (lower && upper) {
        chosen =
          abs - Number(`${digits - 1n}e${k}`) <= Number(`${digits + 1n}e${k}`) - abs
            ? digits - 1n
            : digits + 1n;
      } else if (lower) chosen = digits - 1n;
      else if (upper) chosen = digits + 1n;
    }
    if (chosen !== undefined) return sign + String(Number(`${chosen}e${k}`));
  }
  return String(value);
}

/** `"char"` output: the byte itself, a backslash and 3 octal digits for a byte with the high bit set, '' for NUL. */
function charText(buf: Buffer, start: number, end: number): string {
  expectLength(buf, start, end, 1, '"char"');
  const byte = buf[start]!;
  if (byte === 0) return '';
  if (byte < 0x80) return String.fromCharCode(byte);
  return `\\${(byte >> 6).toString(8)}${((byte >> 3) & 7).toString(8)}${(byte & 7).toString(8)}`;
}

function uuidText(buf: Buffer, start: number, end: number): string {
  expectLength(buf, start, end, 16, 'uuid');
  const hex = buf.toString('hex', start, end);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function jsonbText(buf: Buffer, start: number, end: number): string {
  if (end <= start || buf[start] !== 1) {
    throw new KoyoPgoutputError(
      'INVALID_VALUE',
      'Unsupported binary jsonb version (only version 1 exists).',
      {
        offset: start,
      },
    );
  }
  return utf8(buf, start + 1, end);
}

function int8Text(buf: Buffer, start: number, end: number): string {
  expectLength(buf, start, end, 8, 'int8');
  return buf.readBigInt64BE(start).toString();
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function dateText(days: number): string {
  const { year, month, day } = civil(days);
  const bc = year <= 0;
  return `${pad(bc ? 1 - year : year, 4)}-${pad(month + 1, 2)}-${pad(day, 2)}${bc ? ' BC' : ''}`;
}

function timestampText(buf: Buffer, start: number, end: number, zone: string): string {
  const { infinite, days, micros } = splitMicros(buf, start);
  if (infinite !== 0) return infinite > 0 ? 'infinity' : '-infinity';
  const date = dateText(days);
  const seconds = Math.floor(micros / 1e6);
  const fraction = micros - seconds * 1e6;
  const time = `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}${
    fraction === 0 ? '' : `.${pad(fraction, 6).replace(/0+$/, '')}`
  }${zone}`;
  return date.endsWith(' BC') ? `${date.slice(0, -3)} ${time} BC` : `${date} ${time}`;
}

/**
 * Renders a binary value of a supported type as PostgreSQL's text, for custom parsers (and
 * overridden pg-types parsers) in binary mode. Undefined for unsupported types.
 */
function binaryToText(
  oid: number,
): ((buf: Buffer, start: number, end: number) => string) | undefined {
  switch (oid) {
    case OID.bool:
      return (buf, start, end) => (
        expectLength(buf, start, end, 1, 'bool'),
        buf[start] === 0 ? 'f' : 't'
      );
    case OID.int2:
      return (buf, start, end) => (
        expectLength(buf, start, end, 2, 'int2'),
        String(buf.readInt16BE(start))
      );
    case OID.int4:
      return (buf, start, end) => (
        expectLength(buf, start, end, 4, 'int4'),
        String(int32At(buf, start))
      );
    case OID.oid:
      return (buf, start, end) => (
        expectLength(buf, start, end, 4, 'oid'),
        String(int32At(buf, start) >>> 0)
      );
    case OID.int8:
      return int8Text;
    case OID.float4:
      return (buf, start, end) => (
        expectLength(buf, start, end, 4, 'float4'),
        float4Text(buf.readFloatBE(start))
      );
    case OID.float8:
      return (buf, start, end) => (
        expectLength(buf, start, end, 8, 'float8'),
        String(buf.readDoubleBE(start))
      );
    case OID.text:
    case OID.varchar:
    case OID.bpchar:
    case OID.name:
    case OID.json:
      return utf8;
    case OID.char:
      return charText;
    case OID.jsonb:
      return jsonbText;
    case OID.uuid:
      return uuidText;
    case OID.bytea:
      return (buf, start, end) => `\\x${buf.toString('hex', start, end)}`;
    case OID.date:
      return (buf, start, end) => {
        expectLength(buf, start, end, 4, 'date');
        const days = int32At(buf, start);
        return days === INT32_MAX ? 'infinity' : days === INT32_MIN ? '-infinity' : dateText(days);
      };
    case OID.timestamp:
      return (buf, start, end) => (
        expectLength(buf, start, end, 8, 'timestamp'),
        timestampText(buf, start, end, '')
      );
    case OID.timestamptz:
      return (buf, start, end) => (
        expectLength(buf, start, end, 8, 'timestamptz'),
        timestampText(buf, start, end, '+00')
      );
    default:
      return undefined;
  }
}

/** Direct binary decoders giving the same values as pg-types' builtin text parsers. */
function builtinBinary(oid: number): ValueParser | undefined {
  switch (oid) {
    case OID.bool:
      return (buf, start, end) => (expectLength(buf, start, end, 1, 'bool'), buf[start] !== 0);
    case OID.int2:
      return (buf, start, end) => (
        expectLength(buf, start, end, 2, 'int2'),
        buf.readInt16BE(start)
      );
    case OID.int4:
      return (buf, start, end) => (expectLength(buf, start, end, 4, 'int4'), int32At(buf, start));
    case OID.oid:
      return (buf, start, end) => (
        expectLength(buf, start, end, 4, 'oid'),
        int32At(buf, start) >>> 0
      );
    case OID.int8:
      return int8Text;
    case OID.float4:
      return (buf, start, end) => (
        expectLength(buf, start, end, 4, 'float4'),
        Number(float4Text(buf.readFloatBE(start)))
      );
    case OID.float8:
      return (buf, start, end) => (
        expectLength(buf, start, end, 8, 'float8'),
        buf.readDoubleBE(start)
      );
    case OID.text:
    case OID.varchar:
    case OID.bpchar:
    case OID.name:
      return utf8;
    case OID.char:
      return charText;
    case OID.uuid:
      return uuidText;
    case OID.bytea:
      return copyBytes;
    case OID.json:
      return (buf, start, end) => JSON.parse(utf8(buf, start, end));
    case OID.jsonb:
      return (buf, start, end) => JSON.parse(jsonbText(buf, start, end));
    case OID.date:
      return binaryDate;
    case OID.timestamp:
      return binaryTimestamp;
    case OID.timestamptz:
      return binaryTimestamptz;
    default:
      return undefined;
  }
}

/**
 * The parser for a binary-format value of type `oid` (`binary 'true'`): the common types decode
 * to the same JS values as their text form does; with a custom (or overridden pg-types) parser,
 * the value is rendered as PostgreSQL text and handed to it; every other type stays a Buffer.
 *
 * @internal
 */
export function binaryValueParser(oid: number, custom: TextParser | undefined): ValueParser {
  if (!custom && isDefaultTextParser(oid)) return builtinBinary(oid) ?? parseBytes;
  const toText = binaryToText(oid);
  if (!toText) return parseBytes;
  const parser = custom ?? (pgTypes.getTypeParser(oid, 'text') as TextParser);
  return (buf, start, end) => parser(toText(buf, start, end));
}
