import { quoteIdent, type QualifiedTable } from '@koyo/slot';
import type { TableShape } from './_backfill-source.js';
import { KoyoDispatcherError } from './errors.js';
import type { DispatcherOptions } from './options.js';
import type { HelperSession } from './helper-session.js';

/** `"schema"."name"`, quoted. */
export function qualified(table: { schema: string; name: string }): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** Reads how the table's rows are identified, published and filtered (for a backfill). */
export async function describeTable(
  helper: HelperSession,
  publication: string,
  table: QualifiedTable,
  typeParsers: DispatcherOptions['typeParsers'],
): Promise<TableShape> {
  const name = qualified(table);
  const [rel] = await helper.query<{
    oid: number;
    identity: string;
    reltuples: number;
    version: number;
  }>(
    `SELECT c.oid::int AS oid, c.relreplident AS identity, c.reltuples::float8 AS reltuples,
            current_setting('server_version_num')::int AS version
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  if (!rel)
    throw new KoyoDispatcherError('BACKFILL_FAILED', `Backfill: table ${name} does not exist.`);
  const indexes = await helper.query<{
    primary: boolean;
    identity: boolean;
    usable: boolean;
    columns: string[];
    types: string[];
  }>(
    `SELECT i.indisprimary AS primary, i.indisreplident AS identity,
            (i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL
              AND i.indexprs IS NULL AND bool_and(a.attnotnull)) AS usable,
            array_agg(a.attname::text ORDER BY k.ord) AS columns,
            array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord) AS types
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND k.ord <= i.indnkeyatts
      GROUP BY i.indexrelid, i.indisprimary, i.indisreplident, i.indisunique, i.indimmediate,
               i.indisvalid, i.indpred IS NULL, i.indexprs IS NULL
      ORDER BY i.indisprimary DESC, i.indisreplident DESC, i.indexrelid`,
    [rel.oid],
  );
  const published = await publishedColumns(helper, publication, table, rel);
  const primary = indexes.find((i) => i.primary) ?? null;
  const identityIndex = indexes.find((i) => i.identity && i.usable) ?? null;
  // Only keys the stream carries in every change can match chunk rows against streamed
  // changes: the primary key, the replica identity index, or any unique key with FULL identity.
  const key =
    primary ?? identityIndex ?? (rel.identity === 'f' ? indexes.find((i) => i.usable) : null);
  if (!key) {
    throw new KoyoDispatcherError(
      'NO_USABLE_KEY',
      `Table ${name} has no primary key and no unique key the stream identifies rows by, so it cannot be backfilled in chunks. Add a primary key (ALTER TABLE ${name} ADD PRIMARY KEY (...)), or a unique index on NOT NULL columns and ALTER TABLE ${name} REPLICA IDENTITY USING INDEX <index>.`,
    );
  }
  const missing = key.columns.filter((c) => !published.columns.includes(c));
  if (missing.length > 0) {
    throw new KoyoDispatcherError(
      'NO_USABLE_KEY',
      `Table ${name}: the key column(s) ${missing.join(', ')} are not published by ${publication} (column list), so chunk rows cannot be matched with streamed changes. Add them to the publication's column list.`,
    );
  }
  // Change.key as the stream builds it (see relationInfo).
  const changeKey =
    rel.identity === 'i'
      ? (identityIndex?.columns ?? primary?.columns ?? null)
      : rel.identity === 'f'
        ? (primary?.columns ?? published.columns)
        : (primary?.columns ?? null);
  return {
    schema: table.schema,
    table: table.name,
    keyColumns: key.columns,
    keyTypes: key.types,
    parserTypes: published.types.map((type) =>
      typeParsers?.[type.oid] !== undefined ? type.oid : type.base,
    ),
    changeKey,
    columns: published.columns,
    rowFilter: published.rowFilter,
    estimatedRows: rel.reltuples >= 0 ? Math.round(rel.reltuples) : null,
  };
}

/** A column's type and, for a domain, its base type (through domains over domains). */
interface ColumnType {
  oid: number;
  base: number;
}

async function publishedColumns(
  helper: HelperSession,
  publication: string,
  table: QualifiedTable,
  rel: { oid: number; version: number },
): Promise<{ columns: string[]; types: ColumnType[]; rowFilter: string | null }> {
  const attributes = await helper.query<{ name: string; generated: boolean } & ColumnType>(
    `WITH RECURSIVE t(attnum, base) AS (
       SELECT attnum, atttypid FROM pg_attribute
        WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped
       UNION ALL
       SELECT t.attnum, ty.typbasetype FROM t JOIN pg_type ty ON ty.oid = t.base AND ty.typtype = 'd'
     )
     SELECT a.attname::text AS name, a.attgenerated <> '' AS generated, a.atttypid::int AS oid,
            t.base::int AS base
       FROM pg_attribute a
       JOIN t ON t.attnum = a.attnum
       JOIN pg_type b ON b.oid = t.base AND b.typtype <> 'd'
      WHERE a.attrelid = $1
      ORDER BY a.attnum`,
    [rel.oid],
  );
  let columns = attributes.filter((a) => !a.generated).map((a) => a.name);
  let rowFilter: string | null = null;
  // Generated columns are published from PostgreSQL 18 only when the publication says so:
  // pg_publication_tables knows (15+ has column lists and row filters).
  if (rel.version >= 150000) {
    const [entry] = await helper.query<{ columns: string[]; filter: string | null }>(
      `SELECT attnames::text[] AS columns, rowfilter AS filter FROM pg_publication_tables
        WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`,
      [publication, table.schema, table.name],
    );
    if (!entry)
      throw new KoyoDispatcherError(
        'BACKFILL_FAILED',
        `Backfill: table ${qualified(table)} is not in publication ${publication}, so its changes are not streamed; add it (ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${qualified(table)}).`,
      );
    const generated = new Set(
      rel.version < 180000 ? attributes.filter((a) => a.generated).map((a) => a.name) : [],
    );
    columns = entry.columns.filter((c) => !generated.has(c));
    rowFilter = entry.filter;
  }
  const byName = new Map(attributes.map((a) => [a.name, a]));
  return { columns, types: columns.map((c) => byName.get(c)!), rowFilter };
}
