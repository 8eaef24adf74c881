import { quoteTable, tableLabel, type QualifiedTable } from './identifiers.js';
import type { PublishOperation } from './publication-info.js';
import type { SqlSession } from './session.js';

/**
 * @internal the tables among `tables` (or, with `'all'`, among every permanent table outside the
 * system schemas) that have no replica identity: no primary key under `REPLICA IDENTITY DEFAULT`,
 * or `REPLICA IDENTITY NOTHING`. Once such a table is in a publication that publishes updates or
 * deletes, PostgreSQL rejects its UPDATE and DELETE statements.
 */
export async function findTablesWithoutIdentity(
  session: SqlSession,
  tables: readonly QualifiedTable[] | 'all',
): Promise<QualifiedTable[]> {
  if (tables !== 'all' && tables.length === 0) return [];
  const rows = await session.query<QualifiedTable>(
    `SELECT n.nspname::text AS schema, c.relname::text AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND NOT c.relispartition
        AND ($1::text[] IS NULL
             OR (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])))
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        AND (c.relreplident = 'n'
             OR (c.relreplident = 'd'
                 AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
      ORDER BY 1, 2`,
    tables === 'all' ? [null, null] : [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return rows.map((row) => ({ schema: row.schema, name: row.name }));
}

/** @internal the message and fix of a `REPLICA_IDENTITY_MISSING` problem. */
export function identityProblem(
  tables: readonly QualifiedTable[],
  allTables: boolean,
): { message: string; fix: string } {
  const names = tables.map(tableLabel).join(', ');
  const scope = allTables ? 'A publication FOR ALL TABLES would publish' : 'Publishing';
  return {
    message: `${scope} ${names}, which ${tables.length === 1 ? 'has' : 'have'} no primary key or replica identity: PostgreSQL would then reject every UPDATE and DELETE on ${tables.length === 1 ? 'it' : 'them'} ("cannot update table ... because it does not have a replica identity and publishes updates").`,
    fix: `Add a primary key (ALTER TABLE ${quoteTable(tables[0]!)} ADD PRIMARY KEY (...);), or set a replica identity: ${tables.map((t) => `ALTER TABLE ${quoteTable(t)} REPLICA IDENTITY FULL;`).join(' ')} (or REPLICA IDENTITY USING INDEX on a unique index)${allTables ? '; or list the tables to publish instead of every table' : ''}.`,
  };
}

/**
 * @internal whether a publication publishing `publish` needs a replica identity on its tables:
 * PostgreSQL refuses UPDATE (DELETE) on a keyless table only while it publishes updates (deletes),
 * so an insert-only publication (`WITH (publish = 'insert')`) may carry keyless tables.
 */
export function needsReplicaIdentity(publish: readonly PublishOperation[]): boolean {
  return publish.includes('update') || publish.includes('delete');
}
