import type { QualifiedTable } from './identifiers.js';
import type { SqlSession } from './session.js';

/** The operations a publication can publish. */
export type PublishOperation = 'insert' | 'update' | 'delete' | 'truncate';

/** A publication and the tables it covers right now. */
export interface PublicationInfo {
  name: string;
  /** `FOR ALL TABLES`. */
  allTables: boolean;
  /** Which operations it publishes. */
  publish: PublishOperation[];
  /** PostgreSQL 18+: stored generated columns are published (`publish_generated_columns = stored`); always false before 18. */
  publishGeneratedColumns: boolean;
  /** Every table it covers (for `FOR ALL TABLES` and `FOR TABLES IN SCHEMA`, the tables that exist now). */
  tables: QualifiedTable[];
}

/** @internal reads one publication, or undefined when it does not exist. */
export async function readPublication(
  session: SqlSession,
  name: string,
): Promise<PublicationInfo | undefined> {
  const [row] = await session.query<{
    puballtables: boolean;
    pubinsert: boolean;
    pubupdate: boolean;
    pubdelete: boolean;
    pubtruncate: boolean;
    gencols: string | null;
    // pubgencols exists from PostgreSQL 18 on; through to_jsonb the query works on every version.
  }>(
    "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, to_jsonb(p) ->> 'pubgencols' AS gencols FROM pg_publication p WHERE pubname = $1",
    [name],
  );
  if (!row) return undefined;
  const tables = await session.query<{ schema: string; name: string }>(
    'SELECT schemaname::text AS schema, tablename::text AS name FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2',
    [name],
  );
  const publish: PublishOperation[] = [];
  if (row.pubinsert) publish.push('insert');
  if (row.pubupdate) publish.push('update');
  if (row.pubdelete) publish.push('delete');
  if (row.pubtruncate) publish.push('truncate');
  return {
    name,
    allTables: row.puballtables,
    publish,
    publishGeneratedColumns: row.gencols === 's',
    tables: tables.map((t) => ({ schema: t.schema, name: t.name })),
  };
}
