import { Buffer } from 'node:buffer';
import { KoyoPgoutputError } from './errors.js';
import type { Row } from './messages.js';
import { asBuffer, latin1, utf8 } from './reader.js';
import { rowBuilder, type RowBuilder } from './row-builder.js';
import { parseString, textValueParser, type ValueParser } from './text-values.js';
import { typeParserMap } from './type-parsers.js';

/** A column of the rows a {@link CopyTextRowDecoder} reads, in the order COPY writes them. */
export interface CopyTextColumn {
  /** The key of the column in a decoded row. */
  name: string;
  /** The type whose parser turns the column's text into a value (a domain's base type, for instance). */
  typeOid: number;
  /**
   * Leave the column out: its text is not decoded and decoded rows have no property for it
   * (to read some columns of a row cheaply, its key say). `texts` still returns it.
   */
  skip?: boolean;
}

/** Options of a {@link CopyTextRowDecoder}, as for a {@link PgoutputDecoder}. */
export interface CopyTextRowDecoderOptions {
  /** Parse values like `pg` (default `true`); `false` keeps the server's text. */
  parse?: boolean;
  /** Parsers by type OID, `(text: string) => unknown`, taking precedence over pg's. */
  typeParsers?: Record<number, (value: string) => unknown>;
}

/**
 * Longest row decoded as one string: longer rows are decoded column by column (a string of
 * their whole text could outgrow V8's string limit, or mostly repeat non-text columns).
 */
const ROW_TEXT_MAX = 16 * 1024;

/** {@link CopyTextRowDecoder}'s text kind of a column left out of its rows. */
const SKIPPED = 3;

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

/** COPY's one-letter escapes (`\n`, `\t`, ...) and the bytes they stand for. */
const ESCAPES: Record<number, number> = {
  0x62: 0x08, // b
  0x66: 0x0c, // f
  0x6e: 0x0a, // n
  0x72: 0x0d, // r
  0x74: 0x09, // t
  0x76: 0x0b, // v
};

function isAscii(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function isOctal(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

/**
 * Decodes rows of PostgreSQL's COPY text format (`COPY ... TO STDOUT`, the default format:
 * tab-separated, `\N` for NULL, backslash escapes) into the same row objects an insert of the
 * same values decodes to in a text-mode stream: each column's text goes through the parser a
 * {@link PgoutputDecoder} with the same options uses for that type (so a table read with COPY
 * and the rows later streamed from it compare equal).
 *
 * The server sends one row per CopyData message; `decode` takes such a row (its trailing newline
 * optional). Rows must use the server's default delimiter and NULL string.
 *
 * @example
 * const decoder = new CopyTextRowDecoder([{ name: 'id', typeOid: 23 }, { name: 'at', typeOid: 1184 }]);
 * decoder.decode(Buffer.from('1\t2024-06-01 12:34:56.789+02\n')); // { id: 1, at: Date }
 */
export class CopyTextRowDecoder {
  private readonly parsers: ValueParser[];
  private readonly names: string[];
  private readonly values: unknown[];
  private readonly makeRow: RowBuilder;
  /**
   * Per column, how its value is the column's text as is: 1 decoded as UTF-8 (text, numeric,
   * every type pg leaves as a string), 2 as Latin-1 (int8's digits), 0 parsed, {@link SKIPPED}
   * left out.
   */
  private readonly textKinds: Uint8Array;
  /** Whether any column's value is its text (then a row is decoded to a string once). */
  private readonly hasText: boolean;
  private scratch = Buffer.allocUnsafe(256);

  constructor(columns: readonly CopyTextColumn[], options: CopyTextRowDecoderOptions = {}) {
    if (!Array.isArray(columns) || columns.length === 0) {
      throw new KoyoPgoutputError(
        'INVALID_OPTION',
        'CopyTextRowDecoder needs at least one column ({ name, typeOid }).',
      );
    }
    const typeParsers = typeParserMap(options.typeParsers);
    const parse = options.parse ?? true;
    this.names = columns.map((column) => column.name);
    this.parsers = columns.map((column) =>
      parse ? textValueParser(column.typeOid, typeParsers.get(column.typeOid)) : parseString,
    );
    this.textKinds = Uint8Array.from(this.parsers, (parser, i) =>
      columns[i]!.skip === true ? SKIPPED : parser === utf8 ? 1 : parser === latin1 ? 2 : 0,
    );
    this.hasText = this.textKinds.includes(1) || this.textKinds.includes(2);
    this.values = new Array<unknown>(columns.length).fill(null);
    this.makeRow = rowBuilder(
      this.names,
      columns.flatMap((column, i) => (column.skip === true ? [] : [i])),
      true,
    );
  }

  /**
   * Decodes one row: the bytes `bytes[start, end)` (one line of COPY text output).
   *
   * @throws KoyoPgoutputError `INVALID_MESSAGE` for a row with another number of columns,
   * `INVALID_VALUE` when a type parser rejects a value.
   */
  decode(bytes: Uint8Array, start = 0, end = bytes.length): Row {
    const buf = asBuffer(bytes);
    const values = this.values;
    const parsers = this.parsers;
    const count = parsers.length;
    if (end > start && buf[end - 1] === NEWLINE) end--;
    const textKinds = this.textKinds;
    // One UTF-8 decode of the row and a substring per text column cost less than a decode per
    // column (rows up to ROW_TEXT_MAX bytes). The row's characters line up with its bytes when
    // there are as many of them (a multi-byte character or an invalid sequence decoded as one
    // U+FFFD makes fewer).
    const text = this.hasText && end - start <= ROW_TEXT_MAX ? utf8(buf, start, end) : '';
    const aligned = text.length === end - start;
    if (aligned && this.hasText && this.decodePlain(buf, start, text)) return this.makeRow(values);
    let p = start;
    for (let i = 0; i < count; i++) {
      if (p > end) throw this.columnCount(i, start);
      const from = p;
      let escaped = false;
      let high = 0;
      for (; p < end; p++) {
        const byte = buf[p]!;
        if (byte === TAB) break;
        high |= byte;
        if (byte === BACKSLASH) {
          escaped = true;
          p++; // the escaped byte is never a delimiter
        }
      }
      const to = p > end ? end : p;
      const kind = textKinds[i]!;
      if (kind === SKIPPED) {
        // left out of the row
      } else if (to - from === 2 && buf[from] === BACKSLASH && buf[from + 1] === 0x4e /* N */) {
        values[i] = null;
      } else if (kind !== 0 && aligned && !escaped && (kind === 1 || high < 0x80)) {
        // The same string the column's parser makes (Latin-1 only where it is ASCII).
        values[i] = text.substring(from - start, to - start);
      } else {
        try {
          if (escaped) {
            const length = this.unescape(buf, from, to);
            values[i] = parsers[i]!(this.scratch, 0, length);
          } else {
            values[i] = parsers[i]!(buf, from, to);
          }
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          throw new KoyoPgoutputError(
            'INVALID_VALUE',
            `Cannot parse the value of column ${this.names[i]} at offset ${from}: ${reason}.`,
            {
              offset: from,
              cause: error,
            },
          );
        }
      }
      p++; // past the tab
    }
    if (p <= end) throw this.columnCount(count + 1, start);
    return this.makeRow(values);
  }

  /**
   * Decodes a row whose characters line up with its bytes and that has no escapes (NULLs are
   * fine) into `values`, finding the tabs in its text; false (values unfinished) for any other
   * row, which the byte-by-byte loop then decodes, and reports errors of.
   */
  private decodePlain(buf: Buffer, start: number, text: string): boolean {
    const values = this.values;
    const parsers = this.parsers;
    const textKinds = this.textKinds;
    const count = parsers.length;
    const length = text.length;
    let backslash = text.indexOf('\\');
    let from = 0;
    for (let i = 0; i < count; i++) {
      const tab = text.indexOf('\t', from);
      if (i === count - 1 ? tab !== -1 : tab === -1) return false; // another number of columns
      const to = tab === -1 ? length : tab;
      const kind = textKinds[i]!;
      if (kind === SKIPPED) {
        if (backslash !== -1 && backslash < to) backslash = text.indexOf('\\', to);
        from = to + 1;
        continue;
      }
      if (backslash !== -1 && backslash < to) {
        if (backslash !== from || to - from !== 2 || text.charCodeAt(from + 1) !== 0x4e)
          return false;
        values[i] = null; // \N
        backslash = text.indexOf('\\', to);
        from = to + 1;
        continue;
      }
      if (kind === 1 || (kind === 2 && isAscii(text, from, to))) {
        values[i] = text.substring(from, to);
      } else {
        try {
          values[i] = parsers[i]!(buf, start + from, start + to);
        } catch {
          return false; // reported with its offset by the byte loop
        }
      }
      from = to + 1;
    }
    return true;
  }

  /** The unescaped texts of a row's columns (null for NULL), without parsing them. */
  texts(bytes: Uint8Array, start = 0, end = bytes.length): (string | null)[] {
    const buf = asBuffer(bytes);
    if (end > start && buf[end - 1] === NEWLINE) end--;
    const out: (string | null)[] = [];
    let p = start;
    while (p <= end) {
      const from = p;
      let escaped = false;
      for (; p < end && buf[p] !== TAB; p++) {
        if (buf[p] === BACKSLASH) {
          escaped = true;
          p++;
        }
      }
      const to = p > end ? end : p;
      if (to - from === 2 && buf[from] === BACKSLASH && buf[from + 1] === 0x4e) out.push(null);
      else if (escaped) {
        const length = this.unescape(buf, from, to); // may replace the scratch buffer
        out.push(utf8(this.scratch, 0, length));
      } else out.push(utf8(buf, from, to));
      p++;
    }
    if (out.length !== this.names.length) throw this.columnCount(out.length, start);
    return out;
  }

  /** Writes the unescaped bytes of `buf[from, to)` to the scratch buffer; returns their length. */
  private unescape(buf: Buffer, from: number, to: number): number {
    if (this.scratch.length < to - from)
      this.scratch = Buffer.allocUnsafe(Math.max(to - from, this.scratch.length * 2));
    const out = this.scratch;
    let n = 0;
    for (let p = from; p < to; p++) {
      const byte = buf[p]!;
      if (byte !== BACKSLASH || p + 1 >= to) {
        out[n++] = byte;
        continue;
      }
      const next = buf[++p]!;
      const simple = ESCAPES[next];
      if (simple !== undefined) {
        out[n++] = simple;
      } else if (isOctal(next)) {
        // \ooo (COPY FROM's rule; COPY TO never writes it)
        let value = next - 0x30;
        if (p + 1 < to && isOctal(buf[p + 1])) value = value * 8 + buf[++p]! - 0x30;
        if (p + 1 < to && isOctal(buf[p + 1])) value = value * 8 + buf[++p]! - 0x30;
        out[n++] = value & 0xff;
      } else if (next === 0x78 /* x */ && p + 1 < to && hexValue(buf[p + 1]) >= 0) {
        let value = hexValue(buf[++p]);
        if (p + 1 < to && hexValue(buf[p + 1]) >= 0) value = value * 16 + hexValue(buf[++p]);
        out[n++] = value;
      } else {
        out[n++] = next; // \\ and any other escaped byte stand for themselves
      }
    }
    return n;
  }

  private columnCount(seen: number, offset: number): KoyoPgoutputError {
    return new KoyoPgoutputError(
      'INVALID_MESSAGE',
      `A COPY text row has ${seen > this.names.length ? 'more' : `${seen}`} column(s), the decoder expects ${this.names.length} (${this.names.join(', ')}). Select exactly these columns, in this order, with the default delimiter.`,
      { offset },
    );
  }
}
