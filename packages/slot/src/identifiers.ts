import { KoyoSlotError } from './errors.js';

/** A table: `"name"`, `"schema.name"`, or an object for names that contain a dot. */
export type TableName = string | { schema?: string; name: string };

/** A table name after validation. */
export interface QualifiedTable {
  schema: string;
  name: string;
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const PUBLICATION_NAME = /^[A-Za-z0-9_$-]{1,63}$/;
const MAX_IDENTIFIER_BYTES = 63;

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : `a ${value === null ? 'null' : typeof value}`;
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

function assertIdentifierPart(part: unknown, what: string, original: unknown): asserts part is string {
  const ok =
    typeof part === 'string' &&
    part.length > 0 &&
    Buffer.byteLength(part, 'utf8') <= MAX_IDENTIFIER_BYTES &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(part);
  if (!ok) {
    throw new KoyoSlotError(
      'INVALID_IDENTIFIER',
      `Invalid ${what} in table name ${describe(typeof original === 'object' && original !== null ? JSON.stringify(original) : original)}: a name is 1-63 bytes without control characters. Write tables as "table" or "schema.table", or { schema, name } when a name contains a dot.`,
    );
  }
}

/**
 * Parses and checks a table name. A string is `table` (schema `public`) or `schema.table`; names
 * are used exactly as written (quoted, so case matters). Throws `INVALID_IDENTIFIER`.
 */
export function parseTableName(table: TableName): QualifiedTable {
  if (typeof table === 'object' && table !== null) {
    const schema = table.schema ?? 'public';
    assertIdentifierPart(schema, 'schema', table);
    assertIdentifierPart(table.name, 'table', table);
    return { schema, name: table.name };
  }
  if (typeof table !== 'string') assertIdentifierPart(table, 'table', table);
  const parts = table.split('.');
  if (parts.length > 2) assertIdentifierPart('', 'table', table);
  const [first, second] = parts;
  if (second === undefined) {
    assertIdentifierPart(first, 'table', table);
    return { schema: 'public', name: first };
  }
  assertIdentifierPart(first, 'schema', table);
  assertIdentifierPart(second, 'table', table);
  return { schema: first, name: second };
}

/** Quotes an SQL identifier: `a"b` becomes `"a""b"`. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal: `it's` becomes `'it''s'` (standard_conforming_strings is on since PostgreSQL 9.1). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) {
    throw new KoyoSlotError('INVALID_IDENTIFIER', 'A value sent to PostgreSQL cannot contain a NUL character.');
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/** `"schema"."table"`. */
export function quoteTable(table: QualifiedTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** `schema.table` for messages (unquoted). */
export function tableLabel(table: QualifiedTable): string {
  return `${table.schema}.${table.name}`;
}
