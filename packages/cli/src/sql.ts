import { KoyoCliError } from './errors.js';

/** A table reference: `schema` is null when the name was unqualified. */
export interface TableRef {
  schema: string | null;
  table: string;
}

/** Quotes an identifier for SQL: `"name"`, inner double quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for SQL: `'text'`, inner single quotes doubled. */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Parses `'users'`, `'public.users'` or `'"My Schema"."Users"'` the way @koyo/dispatcher's
 * `onTable` does: unquoted parts are taken as written (write them as they appear in the catalog,
 * usually lower case). A malformed name is a `USAGE` error when it came from a flag (`command`),
 * `CONFIG_INVALID` otherwise.
 */
export function parseTable(name: string, command?: string): TableRef {
  const fail = (why: string): KoyoCliError =>
    command === undefined
      ? new KoyoCliError('CONFIG_INVALID', `cannot parse table name ${JSON.stringify(name)}: ${why}; write 'table', 'schema.table' or '"Quoted"."Names"'`)
      : new KoyoCliError('USAGE', `cannot parse table name ${JSON.stringify(name)}: ${why}; write 'table', 'schema.table' or '"Quoted"."Names"'`, { command });
  const text = name.trim();
  if (text.length === 0) throw fail('it is empty');
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw fail('a double quote is never closed');
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
        if (text[i] === '"') throw fail('a double quote may only start an identifier');
        part += text[i++];
      }
    }
    if (part.length === 0) throw fail('an identifier is empty');
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(part)) throw fail('it contains a control character');
    parts.push(part);
    if (i === text.length) break;
    if (text[i] !== '.') throw fail(`unexpected ${JSON.stringify(text[i])} after an identifier`);
    i++;
  }
  if (parts.length === 1) return { schema: null, table: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, table: parts[1]! };
  throw fail('use at most schema.table');
}

/** The SQL of a table reference, quoted (`"billing"."invoices"`; unqualified: `"users"`, found on the search_path). */
export function quoteTable(ref: TableRef): string {
  return ref.schema === null ? quoteIdent(ref.table) : `${quoteIdent(ref.schema)}.${quoteIdent(ref.table)}`;
}

/** True when the reference names this table (an unqualified reference matches any schema). */
export function tableMatches(ref: TableRef, schema: string, table: string): boolean {
  return ref.table === table && (ref.schema === null || ref.schema === schema);
}
