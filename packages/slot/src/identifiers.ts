import { KoyoSlotError } from './errors.js';

/** A table: `"name"`, `"schema.name"`, `'"Quoted"."Names"'`, or `{ schema?, name }` (`schema` null or absent: found on the search_path). */
export type TableName = string | { schema?: string | null | undefined; name: string };

/**
 * A parsed table name. `schema` is `null` when the name was unqualified: it is then found on the
 * connection's `search_path` ({@link resolveTables}).
 */
export interface TableRef {
  schema: string | null;
  name: string;
}

/** A table with its schema, as PostgreSQL resolved it. */
export interface QualifiedTable {
  schema: string;
  name: string;
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const PUBLICATION_NAME = /^[A-Za-z0-9_$-]{1,63}$/;
const MAX_IDENTIFIER_BYTES = 63;

function describe(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value)
    : `a ${value === null ? 'null' : typeof value}`;
}

/**
 * Checks a replication slot name: 1-63 characters of `a-z`, `0-9` and `_`, as PostgreSQL itself
 * requires. Throws `INVALID_IDENTIFIER` otherwise, before anything reaches the server.
 *
 * @example
 * assertSlotName('orders_sync'); // ok
 * assertSlotName('Orders-Sync'); // throws KoyoSlotError INVALID_IDENTIFIER
 */
export function assertSlotName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SLOT_NAME.test(name)) {
    throw new KoyoSlotError(
      'INVALID_IDENTIFIER',
      `Invalid replication slot name ${describe(name)}: use 1-63 characters of lower-case letters, digits and underscores (e.g. "orders_sync"), as PostgreSQL requires.`,
    );
  }
}

/**
 * Checks a publication name: 1-63 characters of letters, digits, `_`, `$` and `-`. koyo always
 * quotes it, so the name is used exactly as written (case-sensitive). Throws
 * `INVALID_IDENTIFIER` otherwise, before anything reaches the server.
 */
export function assertPublicationName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !PUBLICATION_NAME.test(name)) {
    throw new KoyoSlotError(
      'INVALID_IDENTIFIER',
      `Invalid publication name ${describe(name)}: use 1-63 characters of letters, digits, "_", "$" and "-" (e.g. "koyo_orders"). The name is used exactly as written, case included.`,
    );
  }
}

function assertIdentifierPart(
  part: unknown,
  what: string,
  original: unknown,
): asserts part is string {
  const ok =
    typeof part === 'string' &&
    part.length > 0 &&
    Buffer.byteLength(part, 'utf8') <= MAX_IDENTIFIER_BYTES &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(part);
  if (!ok) {
    throw new KoyoSlotError(
      'INVALID_IDENTIFIER',
      `Invalid ${what} in table name ${describe(typeof original === 'object' && original !== null ? JSON.stringify(original) : original)}: a name is 1-63 bytes without control characters. Write tables as "table", "schema.table" or '"Quoted"."Names"'.`,
    );
  }
}

function malformed(table: string, why: string): KoyoSlotError {
  return new KoyoSlotError(
    'INVALID_IDENTIFIER',
    `Cannot parse table name ${JSON.stringify(table)}: ${why}. Write 'table', 'schema.table' or '"Quoted"."Names"'.`,
  );
}

/** Splits `a.b`, `"A"."b.c"` into identifiers; `""` inside quotes is one `"`. */
function splitQualifiedName(table: string): string[] {
  const text = table.trim();
  if (text === '') throw malformed(table, 'it is empty');
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw malformed(table, 'a double quote is never closed');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== '.') {
        if (text[i] === '"') throw malformed(table, 'a double quote may only start an identifier');
        part += text[i++];
      }
    }
    if (part === '') throw malformed(table, 'an identifier is empty');
    parts.push(part);
    if (i === text.length) return parts;
    if (text[i] !== '.')
      throw malformed(table, `unexpected ${JSON.stringify(text[i])} after an identifier`);
    i++;
    if (i === text.length) throw malformed(table, 'it ends with a dot');
  }
}

/**
 * Parses and checks a table name: `'users'`, `'app.users'`, `'"My Schema"."Users"'` or
 * `{ schema?, name }`. Parts are used exactly as written (PostgreSQL folds unquoted names to lower
 * case; koyo does not, so write names as they appear in the catalog). An unqualified name keeps
 * `schema: null`: {@link resolveTables} finds it on the connection's `search_path`, as PostgreSQL
 * would. The one table-name parser of koyo. Throws `INVALID_IDENTIFIER`.
 *
 * @example
 * parseTableName('users'); // { schema: null, name: 'users' }
 * parseTableName('"Billing".invoices'); // { schema: 'Billing', name: 'invoices' }
 */
export function parseTableName(table: TableName): TableRef {
  if (typeof table === 'object' && table !== null) {
    const schema = table.schema ?? null;
    if (schema !== null) assertIdentifierPart(schema, 'schema', table);
    assertIdentifierPart(table.name, 'table', table);
    return { schema, name: table.name };
  }
  if (typeof table !== 'string') assertIdentifierPart(table, 'table', table);
  const parts = splitQualifiedName(table);
  if (parts.length > 2) throw malformed(table, 'use at most schema.table');
  const [first, second] = parts as [string, string | undefined];
  if (second === undefined) {
    assertIdentifierPart(first, 'table', table);
    return { schema: null, name: first };
  }
  assertIdentifierPart(first, 'schema', table);
  assertIdentifierPart(second, 'table', table);
  return { schema: first, name: second };
}

/**
 * The SQL form of a table reference, quoted: `"app"."users"`, or `"users"` when unqualified
 * (PostgreSQL then looks it up on the `search_path`).
 */
export function quoteTableRef(ref: TableRef): string {
  return ref.schema === null
    ? quoteIdent(ref.name)
    : `${quoteIdent(ref.schema)}.${quoteIdent(ref.name)}`;
}

/** Quotes an SQL identifier: `a"b` becomes `"a""b"`. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes an SQL string literal: `it's` becomes `'it''s'`. A value with a backslash becomes an
 * escape string (` E'a\\b'`, as libpq's `PQescapeLiteral` does), which reads the same whatever
 * `standard_conforming_strings` is: a role or database that turns it off cannot make a backslash
 * end the literal early.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) {
    throw new KoyoSlotError(
      'INVALID_IDENTIFIER',
      'A value sent to PostgreSQL cannot contain a NUL character.',
    );
  }
  const quoted = value.replace(/'/g, "''");
  return value.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/** `"schema"."table"`. */
export function quoteTable(table: QualifiedTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** `schema.table` for messages (unquoted). */
export function tableLabel(table: QualifiedTable): string {
  return `${table.schema}.${table.name}`;
}
