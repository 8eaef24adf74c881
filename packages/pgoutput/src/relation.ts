import { binaryValueParser, parseBytes } from './binary-values.js';
import { KoyoPgoutputError } from './errors.js';
import { UNCHANGED_TOAST, type RelationMessage, type Row } from './messages.js';
import type { Reader } from './reader.js';
import { rowBuilder, type RowBuilder } from './row-builder.js';
import { parseString, textValueParser, type TextParser, type ValueParser } from './text-values.js';

/** How values are turned into JS values, fixed per decoder. @internal */
export interface ValueOptions {
  parse: boolean;
  typeParsers: ReadonlyMap<number, TextParser>;
  generateCode: boolean;
}

/**
 * A relation plus everything precomputed to decode its tuples fast: one parser per column for
 * each wire format, a reused scratch array and generated row constructors.
 *
 * @internal
 */
export class CompiledRelation {
  readonly message: RelationMessage;
  readonly count: number;
  readonly text: ValueParser[];
  readonly binary: ValueParser[];
  readonly values: unknown[];
  readonly makeRow: RowBuilder;
  readonly makeKey: RowBuilder;

  constructor(message: RelationMessage, options: ValueOptions) {
    this.message = message;
    const columns = message.columns;
    this.count = columns.length;
    const names = columns.map((column) => column.name);
    if (options.parse) {
      this.text = columns.map((column) =>
        textValueParser(column.typeOid, options.typeParsers.get(column.typeOid)),
      );
      this.binary = columns.map((column) =>
        binaryValueParser(column.typeOid, options.typeParsers.get(column.typeOid)),
      );
    } else {
      this.text = columns.map(() => parseString);
      this.binary = columns.map(() => parseBytes);
    }
    this.values = new Array<unknown>(this.count).fill(null);
    const all = columns.map((_, i) => i);
    const keys = all.filter((i) => columns[i]!.isKey);
    this.makeRow = rowBuilder(names, all, options.generateCode);
    this.makeKey = rowBuilder(names, keys, options.generateCode);
  }
}

function valueError(
  reader: Reader,
  relation: CompiledRelation,
  column: number,
  offset: number,
  cause: unknown,
): KoyoPgoutputError {
  const { schema, name, columns } = relation.message;
  const col = columns[column]!;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new KoyoPgoutputError(
    'INVALID_VALUE',
    `Cannot parse the value of ${schema}.${name}.${col.name} (type OID ${col.typeOid}) at offset ${offset}: ${reason}. ` +
      'If a custom type parser threw, fix it; to receive raw text instead, decode with parse: false.',
    { offset, tag: reader.tag, cause },
  );
}

/**
 * Reads one TupleData of `relation` at the reader's position. With `keyOnly`, the row holds the
 * replica identity columns only (a `K` tuple).
 *
 * @internal
 */
export function readTuple(reader: Reader, relation: CompiledRelation, keyOnly: boolean): Row {
  const buf = reader.buf;
  const end = reader.end;
  let p = reader.pos;
  if (p + 2 > end) throw reader.truncated(2);
  const n = (buf[p]! << 8) | buf[p + 1]!;
  if (n !== relation.count) {
    throw reader.invalid(
      `Tuple has ${n} column(s) but relation ${relation.message.schema}.${relation.message.name} has ${relation.count}.`,
    );
  }
  p += 2;
  const values = relation.values;
  for (let i = 0; i < n; i++) {
    if (p >= end) {
      reader.pos = p;
      throw reader.truncated(1);
    }
    const kind = buf[p++]!;
    if (kind === 0x74 /* t */ || kind === 0x62 /* b */) {
      if (p + 4 > end) {
        reader.pos = p;
        throw reader.truncated(4);
      }
      const length = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
      p += 4;
      if (length < 0 || p + length > end) {
        reader.pos = p;
        throw reader.truncated(length);
      }
      const parser = kind === 0x74 ? relation.text[i]! : relation.binary[i]!;
      try {
        values[i] = parser(buf, p, p + length);
      } catch (error) {
        throw valueError(reader, relation, i, p, error);
      }
      p += length;
    } else if (kind === 0x6e /* n */) {
      values[i] = null;
    } else if (kind === 0x75 /* u */) {
      values[i] = UNCHANGED_TOAST;
    } else {
      reader.pos = p - 1;
      throw reader.invalid(
        `Unknown tuple value kind 0x${kind.toString(16)} (expected t, b, n or u) at offset ${p - 1}.`,
      );
    }
  }
  reader.pos = p;
  return keyOnly ? relation.makeKey(values) : relation.makeRow(values);
}
