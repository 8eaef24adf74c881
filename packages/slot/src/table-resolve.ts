import { KoyoSlotError } from './errors.js';
import {
  parseTableName,
  quoteTableRef,
  type QualifiedTable,
  type TableName,
  type TableRef,
} from './identifiers.js';

/** Anything that runs a query the way `pg.Client` and `pg.Pool` do. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/** A table name as PostgreSQL resolved it. */
export interface ResolvedTable extends QualifiedTable {
  /** The table's OID (`pg_class.oid`). */
  oid: number;
  /** The reference as it was parsed (`schema: null` when it was unqualified). */
  ref: TableRef;
}

/** @internal what setup checks need beyond the name. */
export interface TableFacts extends ResolvedTable {
  /** `pg_class.relkind`: `r` table, `p` partitioned table, `v` view, ... */
  kind: string;
  /** `pg_class.relpersistence`: `p` permanent, `u` unlogged, `t` temporary. */
  persistence: string;
  /** The current role owns the table (directly or through a role it inherits), or is a superuser. */
  owned: boolean;
}

/** @internal one row per reference, in order; `undefined` where nothing matched. */
export async function lookupTables(
  run: (sql: string, params: unknown[]) => Promise<any[]>,
  tables: readonly TableName[],
): Promise<{ found: (TableFacts | undefined)[]; refs: TableRef[]; searchPath: string[] }> {
  const refs = tables.map((table) => parseTableName(table));
  const [path] = await run('SELECT current_schemas(false)::text[] AS path', []);
  const searchPath = (path?.path ?? []) as string[];
  if (refs.length === 0) return { found: [], refs, searchPath };
  // to_regclass resolves exactly like a statement would: the search_path for an unqualified name,
  // and NULL (not an error) for a name or schema that does not exist.
  const rows = await run(
    `SELECT r.i::int AS i, c.oid::text AS oid, n.nspname::text AS schema, c.relname::text AS name,
            c.relkind::text AS kind, c.relpersistence::text AS persistence,
            pg_has_role(c.relowner, 'USAGE') AS owned
       FROM unnest($1::text[]) WITH ORDINALITY AS r(ref, i)
       LEFT JOIN pg_class c ON c.oid = to_regclass(r.ref)
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      ORDER BY r.i`,
    [refs.map(quoteTableRef)],
  );
  const found = refs.map((ref, index): TableFacts | undefined => {
    const row = rows[index];
    if (!row || row.oid === null) return undefined;
    return {
      schema: row.schema,
      name: row.name,
      oid: Number(row.oid),
      ref,
      kind: row.kind,
      persistence: row.persistence,
      owned: row.owned === true,
    };
  });
  return { found, refs, searchPath };
}

/** @internal the sentence saying where a name was looked for. */
export function notFoundMessage(ref: TableRef, searchPath: readonly string[]): string {
  if (ref.schema !== null)
    return `Table ${quoteTableRef(ref)} does not exist (looked in schema "${ref.schema}" only, as the name is qualified).`;
  const path =
    searchPath.length > 0
      ? searchPath.map((schema) => `"${schema}"`).join(', ')
      : 'none: the search_path names no existing schema';
  return `Table ${quoteTableRef(ref)} does not exist in any schema of the connection's search_path (searched: ${path}). Qualify it as "schema.${ref.name}", or add its schema to the role's search_path.`;
}

/**
 * Resolves table names the way PostgreSQL does (`to_regclass`): a qualified name in its schema,
 * an unqualified one on the connection's `search_path` (the first schema that has it). The one
 * table resolver of koyo: the dispatcher and the CLI use it, so `'users'` means the same table
 * everywhere. Throws `TABLE_NOT_FOUND` naming every name that matched nothing and the schemas
 * searched; `INVALID_IDENTIFIER` for a malformed name.
 *
 * @example
 * const client = new pg.Client(url); await client.connect();
 * const [users] = await resolveTables(client, ['users']); // { schema: 'app', name: 'users', oid: 16411, ... }
 */
export async function resolveTables(
  client: Queryable,
  tables: readonly TableName[],
): Promise<ResolvedTable[]> {
  if (!Array.isArray(tables)) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'tables must be an array of table names, like ["public.orders", "items"].',
    );
  }
  const { found, refs, searchPath } = await lookupTables(
    async (sql, params) => (await client.query(sql, params)).rows,
    tables,
  );
  return requireFound(found, refs, searchPath);
}

/** @internal throws TABLE_NOT_FOUND for the references that matched nothing. */
export function requireFound(
  found: readonly (TableFacts | undefined)[],
  refs: readonly TableRef[],
  searchPath: readonly string[],
): ResolvedTable[] {
  const missing = refs.filter((_, index) => found[index] === undefined);
  if (missing.length > 0) {
    throw new KoyoSlotError(
      'TABLE_NOT_FOUND',
      missing.map((ref) => notFoundMessage(ref, searchPath)).join(' '),
    );
  }
  return found.map((table) => ({
    schema: table!.schema,
    name: table!.name,
    oid: table!.oid,
    ref: table!.ref,
  }));
}
