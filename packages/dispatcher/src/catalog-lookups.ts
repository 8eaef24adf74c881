import pg from 'pg';
import type { DomainLookup, PrimaryKeyLookup } from './relation-catalog.js';

/** Runs one catalog query and returns its rows (a `pg` client's `query(...).rows`, or a session's). */
export type CatalogQuery = <R extends pg.QueryResultRow>(
  sql: string,
  params: unknown[],
) => Promise<R[]>;

/** A {@link PrimaryKeyLookup} that reads `pg_index` (columns in key order; null without a primary key). */
export function primaryKeyLookup(query: CatalogQuery): PrimaryKeyLookup {
  return async (oid) => {
    const rows = await query<{ name: string }>(
      `SELECT a.attname AS name
         FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = $1 AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)`,
      [oid],
    );
    return rows.length > 0 ? rows.map((r) => r.name) : null;
  };
}

/**
 * A {@link DomainLookup} that reads each domain's base type from `pg_type` (through domains over
 * domains) and parses values like it: with `typeParsers[base]` when given, else `pg`'s parser.
 * Types with their own entry in `typeParsers` are left to the decoder.
 */
export function domainLookup(
  query: CatalogQuery,
  typeParsers?: Record<number, (value: string) => unknown>,
): DomainLookup {
  return async (oids) => {
    const parsers = new Map<number, (text: string) => unknown>();
    const wanted = [...new Set(oids)].filter((oid) => typeParsers?.[oid] === undefined);
    if (wanted.length === 0) return parsers;
    const rows = await query<{ oid: number; base: number }>(
      `WITH RECURSIVE d(oid, base) AS (
         SELECT oid, typbasetype FROM pg_type WHERE oid = ANY ($1::oid[]) AND typtype = 'd'
         UNION ALL
         SELECT d.oid, t.typbasetype FROM d JOIN pg_type t ON t.oid = d.base AND t.typtype = 'd'
       )
       SELECT d.oid::int AS oid, d.base::int AS base FROM d JOIN pg_type b ON b.oid = d.base AND b.typtype <> 'd'`,
      [wanted],
    );
    for (const row of rows) {
      const custom = typeParsers?.[row.base];
      parsers.set(
        row.oid,
        custom ?? (pg.types.getTypeParser(row.base, 'text') as (text: string) => unknown),
      );
    }
    return parsers;
  };
}
