import { KoyoDispatcherError } from './errors.js';

/** A parsed table reference: `schema` is null when the name was unqualified. */
export interface TableRef {
  schema: string | null;
  table: string;
}

/**
 * Parses `'users'`, `'public.users'` or quoted identifiers (`'"My Schema"."Users"'`).
 * Unquoted parts are taken as written (PostgreSQL folds unquoted names to lower case, so write
 * them in lower case, as they appear in the catalog).
 */
export function parseTableName(name: string): TableRef {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new KoyoDispatcherError(
      'INVALID_TABLE_NAME',
      `A table name must be a non-empty string like 'users' or 'public.users', got ${JSON.stringify(name)}.`,
    );
  }
  const parts: string[] = [];
  let i = 0;
  const text = name.trim();
  while (i <= text.length) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw bad(name, 'an opening double quote is never closed');
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
        if (text[i] === '"') throw bad(name, 'a double quote may only start an identifier');
        part += text[i++];
      }
    }
    if (part === '') throw bad(name, 'an identifier is empty');
    parts.push(part);
    if (i === text.length) break;
    if (text[i] !== '.')
      throw bad(name, `unexpected ${JSON.stringify(text[i])} after an identifier`);
    i++;
    if (i === text.length) throw bad(name, 'it ends with a dot');
  }
  if (parts.length === 1) return { schema: null, table: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, table: parts[1]! };
  throw bad(name, 'use at most schema.table');
}

function bad(name: string, why: string): KoyoDispatcherError {
  return new KoyoDispatcherError(
    'INVALID_TABLE_NAME',
    `Cannot parse table name ${JSON.stringify(name)}: ${why}. Write 'table', 'schema.table' or '"Quoted"."Names"'.`,
  );
}

/** True when the reference names this table (an unqualified reference matches any schema). */
export function tableMatches(ref: TableRef, schema: string, table: string): boolean {
  return ref.table === table && (ref.schema === null || ref.schema === schema);
}

/** The SQL form of a reference, quoted: `"public"."users"` (unqualified: `"users"`). */
export function quoteTableRef(ref: TableRef): string {
  const quote = (id: string): string => `"${id.replaceAll('"', '""')}"`;
  return ref.schema === null ? quote(ref.table) : `${quote(ref.schema)}.${quote(ref.table)}`;
}
