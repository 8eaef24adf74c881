import type { QualifiedTable } from '@koyo/slot';
import type pg from 'pg';
import { KoyoCliError } from '../errors.js';
import { quoteTableRef } from '../sql.js';

/** The publication must exist and cover every `--table`: otherwise tail would wait forever for nothing. */
export async function checkPublication(
  client: pg.Client,
  publication: string,
  filter: readonly QualifiedTable[],
): Promise<void> {
  const { rows: found } = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
    publication,
  ]);
  if (found.length === 0) {
    throw new KoyoCliError(
      'NOT_FOUND',
      `publication "${publication}" does not exist in this database: create it (koyo setup prints the SQL), or name tables with --table and no publication`,
    );
  }
  if (filter.length === 0) return;
  const { rows } = await client.query<{ schema: string; name: string }>(
    'SELECT schemaname::text AS schema, tablename::text AS name FROM pg_publication_tables WHERE pubname = $1',
    [publication],
  );
  for (const ref of filter) {
    if (!rows.some((row) => row.schema === ref.schema && row.name === ref.name)) {
      const list = rows.map((row) => `${row.schema}.${row.name}`).join(', ') || 'none';
      throw new KoyoCliError(
        'NOT_FOUND',
        `table ${quoteTableRef(ref)} is not in publication "${publication}" (it has: ${list}): tail would never print anything`,
      );
    }
  }
}

/** The slot `--peek` reads must exist, be a pgoutput slot, and belong to this database. */
export async function checkPeekSlot(client: pg.Client, peekSlot: string): Promise<void> {
  const { rows } = await client.query(
    'SELECT plugin, database::text AS database, current_database()::text AS here FROM pg_replication_slots WHERE slot_name = $1',
    [peekSlot],
  );
  const row = rows[0];
  if (!row)
    throw new KoyoCliError(
      'NOT_FOUND',
      `replication slot "${peekSlot}" does not exist (koyo slots lists them)`,
    );
  if (row.plugin !== 'pgoutput')
    throw new KoyoCliError(
      'NOT_FOUND',
      `replication slot "${peekSlot}" is not a logical pgoutput slot (plugin: ${row.plugin ?? 'none, physical'})`,
    );
  if (row.database !== row.here)
    throw new KoyoCliError(
      'NOT_FOUND',
      `replication slot "${peekSlot}" belongs to database "${row.database}": connect to that database`,
    );
}
