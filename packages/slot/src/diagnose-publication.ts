import { quoteIdent } from './identifiers.js';
import { readPublication, type PublicationInfo } from './publication-info.js';
import { needsReplicaIdentity } from './replica-identity.js';
import type { SqlSession } from './session.js';
import type { Fail, Pass, ServerFacts } from './diagnose-types.js';

/**
 * @internal the publication: the right to create it, that it exists and covers tables, their
 * generated columns and replica identity.
 */
export async function checkPublication(
  session: SqlSession,
  name: string,
  facts: ServerFacts,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const publication = await readPublication(session, name);
  if (publication) {
    pass('create_publication', `Publication "${name}" exists; nothing to create.`);
  } else if (facts.superuser || facts.can_create) {
    pass(
      'create_publication',
      `Role "${facts.usr}" may create publication "${name}" (it must also own the tables it publishes).`,
    );
  } else {
    fail(
      'create_publication',
      'error',
      `Role "${facts.usr}" cannot create publication "${name}": it lacks CREATE on database "${facts.db}".`,
      `GRANT CREATE ON DATABASE ${quoteIdent(facts.db)} TO ${quoteIdent(facts.usr)};`,
    );
  }
  if (!publication) {
    fail(
      'publication',
      'error',
      `Publication "${name}" does not exist in database "${facts.db}".`,
      `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE <schema.table>, ...;`,
    );
    return;
  }
  const list = publication.tables.map((t) => `${t.schema}.${t.name}`);
  const shown =
    list.length > 20
      ? `${list.slice(0, 20).join(', ')} and ${list.length - 20} more`
      : list.join(', ');
  if (list.length === 0) {
    fail(
      'publication',
      'warning',
      `Publication "${name}" exists but covers no table: nothing will be streamed.`,
      `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE <schema.table>;`,
    );
  } else {
    pass(
      'publication',
      `Publication "${name}" ${publication.allTables ? 'is FOR ALL TABLES and covers' : 'covers'} ${list.length} table${list.length === 1 ? '' : 's'}: ${shown}; publishes ${publication.publish.join(', ')}.`,
    );
  }
  await checkGeneratedColumns(session, publication, facts.version_num as number, pass, fail);
  if (!needsReplicaIdentity(publication.publish)) return;
  const rows = await session.query<{
    schema: string;
    name: string;
    ident: string;
    has_pk: boolean;
  }>(
    `SELECT pt.schemaname::text AS schema, pt.tablename::text AS name, c.relreplident::text AS ident,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
      WHERE pt.pubname = $1 ORDER BY 1, 2`,
    [name],
  );
  let problems = 0;
  for (const row of rows) {
    const label = `${row.schema}.${row.name}`;
    const fix = `ALTER TABLE ${quoteIdent(row.schema)}.${quoteIdent(row.name)} REPLICA IDENTITY FULL; -- or add a primary key`;
    if (row.ident === 'n') {
      problems++;
      fail(
        `replica_identity:${label}`,
        'warning',
        `Table ${label} has REPLICA IDENTITY NOTHING: PostgreSQL refuses UPDATE and DELETE on it while it is published.`,
        fix,
      );
    } else if (row.ident === 'd' && !row.has_pk) {
      problems++;
      fail(
        `replica_identity:${label}`,
        'warning',
        `Table ${label} has no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL refuses UPDATE and DELETE on it while it is published.`,
        fix,
      );
    }
  }
  if (problems === 0) {
    pass(
      'replica_identity',
      `Every published table has a usable replica identity (primary key, index or FULL).`,
    );
  }
}

/** pgoutput sends stored generated columns only on PostgreSQL 18+ with publish_generated_columns = stored. */
async function checkGeneratedColumns(
  session: SqlSession,
  publication: PublicationInfo,
  version: number,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const rows = await session.query<{ schema: string; name: string; columns: string }>(
    `SELECT pt.schemaname::text AS schema, pt.tablename::text AS name, string_agg(a.attname::text, ', ' ORDER BY a.attnum) AS columns
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = 's'
      WHERE pt.pubname = $1
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [publication.name],
  );
  if (rows.length === 0 || publication.publishGeneratedColumns) {
    if (rows.length > 0)
      pass(
        'generated_columns',
        `Publication "${publication.name}" publishes stored generated columns: they are in change.new.`,
      );
    return;
  }
  const fix =
    version >= 180000
      ? `ALTER PUBLICATION ${quoteIdent(publication.name)} SET (publish_generated_columns = stored);`
      : 'Upgrade to PostgreSQL 18 (koyo then publishes them), or read the columns back from the table in your handler.';
  const why =
    version >= 180000
      ? `publication "${publication.name}" does not publish them (publish_generated_columns = none)`
      : `PostgreSQL before 18 never sends generated columns`;
  for (const row of rows) {
    fail(
      `generated_columns:${row.schema}.${row.name}`,
      'warning',
      `Table ${row.schema}.${row.name} has stored generated columns (${row.columns}): ${why}, so changes lack them.`,
      fix,
    );
  }
}
