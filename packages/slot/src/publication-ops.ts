import type { Ensured } from './ensured.js';
import { asPgError, KoyoSlotError } from './errors.js';
import {
  assertPublicationName,
  parseTableName,
  quoteIdent,
  quoteLiteral,
  quoteTable,
  type QualifiedTable,
  type TableName,
} from './identifiers.js';
import { mapSqlError } from './management-errors.js';
import {
  readPublication,
  type PublicationInfo,
  type PublishOperation,
} from './publication-info.js';
import type { SqlSession } from './session.js';
import { lookupTables, requireFound } from './table-resolve.js';

// The publication statements of the slot manager: create (or complete) a publication, add and
// remove tables, drop it. Each function runs on the manager's session and throws typed errors.

/** What a publication should cover: a list of tables, or every table of the database. */
export type PublicationSpec =
  { tables: TableName[]; allTables?: never } | { allTables: true; tables?: never };

/** Options of {@link SlotManager.ensurePublication}. */
export interface EnsurePublicationOptions {
  /** Operations to publish. Default: PostgreSQL's default (all four). An existing publication is altered to match. */
  publish?: PublishOperation[];
  /**
   * PostgreSQL 18+: when this call creates the publication, publish stored generated columns
   * (`publish_generated_columns = stored`) so that they are in every change. Default true; an
   * existing publication is left as it is; ignored before PostgreSQL 18.
   */
  publishGeneratedColumns?: boolean;
}

/** @internal checks that `tables` is an array of well-formed table names, before any SQL. */
export function assertTables(tables: unknown): TableName[] {
  if (!Array.isArray(tables)) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'tables must be an array of table names, like ["public.orders", "items"].',
    );
  }
  // Parsed here so that a malformed name is refused before anything reaches the server.
  for (const table of tables as TableName[]) parseTableName(table);
  return tables as TableName[];
}

function sameTable(a: QualifiedTable, b: QualifiedTable): boolean {
  return a.schema === b.schema && a.name === b.name;
}

function publishClause(publish: PublishOperation[] | undefined): string {
  if (publish === undefined) return '';
  const allowed: PublishOperation[] = ['insert', 'update', 'delete', 'truncate'];
  if (!Array.isArray(publish) || publish.some((op) => !allowed.includes(op))) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `publish must list some of ${allowed.join(', ')}; got ${JSON.stringify(publish)}.`,
    );
  }
  return ` WITH (publish = ${quoteLiteral(publish.join(', '))})`;
}

/** @internal the tables as PostgreSQL resolves them on this session (schema-qualified). */
export async function resolveQualified(
  session: SqlSession,
  tables: TableName[],
): Promise<QualifiedTable[]> {
  if (tables.length === 0) return [];
  const { found, refs, searchPath } = await lookupTables(
    (sql, params) => session.query(sql, params),
    tables,
  );
  return requireFound(found, refs, searchPath).map((t) => ({ schema: t.schema, name: t.name }));
}

/** The WITH clause of CREATE PUBLICATION: publish, and on 18+ publish_generated_columns. */
async function withClause(
  session: SqlSession,
  withPublish: string,
  options: EnsurePublicationOptions,
): Promise<string> {
  if (options.publishGeneratedColumns === false || (await session.serverVersionNum()) < 180000)
    return withPublish;
  return withPublish === ''
    ? ' WITH (publish_generated_columns = stored)'
    : `${withPublish.slice(0, -1)}, publish_generated_columns = stored)`;
}

/** @internal see {@link SlotManager.ensurePublication}. */
export async function ensurePublicationOn(
  session: SqlSession,
  name: string,
  spec: PublicationSpec,
  options: EnsurePublicationOptions,
): Promise<Ensured<PublicationInfo>> {
  assertPublicationName(name);
  if (
    typeof spec !== 'object' ||
    spec === null ||
    (spec.allTables !== true && !Array.isArray(spec.tables))
  ) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'ensurePublication needs { tables: [...] } or { allTables: true }.',
    );
  }
  const tableNames = spec.allTables === true ? [] : assertTables(spec.tables);
  const withPublish = publishClause(options.publish);
  if (
    options.publishGeneratedColumns !== undefined &&
    typeof options.publishGeneratedColumns !== 'boolean'
  ) {
    throw new KoyoSlotError('INVALID_OPTION', 'publishGeneratedColumns must be a boolean.');
  }
  let tables: QualifiedTable[] = [];
  const context = { publication: name, tables };
  try {
    tables = await resolveQualified(session, tableNames);
    context.tables = tables;
    let existing = await readPublication(session, name);
    let created = false;
    if (!existing) {
      const target =
        spec.allTables === true
          ? ' FOR ALL TABLES'
          : tables.length > 0
            ? ` FOR TABLE ${tables.map(quoteTable).join(', ')}`
            : '';
      try {
        await session.query(
          `CREATE PUBLICATION ${quoteIdent(name)}${target}${await withClause(session, withPublish, options)}`,
        );
        created = true;
      } catch (error) {
        // Created concurrently by someone else: carry on with theirs.
        if (asPgError(error)?.code !== '42710') throw error;
      }
      existing = await readPublication(session, name);
      if (!existing)
        throw new KoyoSlotError(
          'PUBLICATION_NOT_FOUND',
          `Publication "${name}" vanished right after it was created; was it dropped concurrently?`,
        );
    }
    if (!created) {
      if (spec.allTables === true && !existing.allTables) {
        throw new KoyoSlotError(
          'PUBLICATION_MISMATCH',
          `Publication "${name}" exists for a list of tables, not FOR ALL TABLES. Drop it (DROP PUBLICATION ${quoteIdent(name)};) and ensure it again, or pass { tables }.`,
        );
      }
      if (!existing.allTables) {
        const missing = tables.filter(
          (table) => !existing!.tables.some((have) => sameTable(have, table)),
        );
        if (missing.length > 0)
          await session.query(
            `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.map(quoteTable).join(', ')}`,
          );
      }
      if (
        options.publish !== undefined &&
        [...options.publish].sort().join() !== [...existing.publish].sort().join()
      ) {
        await session.query(
          `ALTER PUBLICATION ${quoteIdent(name)} SET (publish = ${quoteLiteral(options.publish.join(', '))})`,
        );
      }
      existing = (await readPublication(session, name)) ?? existing;
    }
    return { created, value: existing };
  } catch (error) {
    throw mapSqlError(error, context);
  }
}

async function requirePublication(session: SqlSession, name: string): Promise<PublicationInfo> {
  const existing = await readPublication(session, name);
  if (!existing) {
    throw new KoyoSlotError(
      'PUBLICATION_NOT_FOUND',
      `Publication "${name}" does not exist. Create it with ensurePublication("${name}", { tables }).`,
    );
  }
  return existing;
}

/** @internal see {@link SlotManager.addTables} and {@link SlotManager.removeTables}. */
export async function alterPublicationTables(
  session: SqlSession,
  name: string,
  tableNames: TableName[],
  action: 'ADD' | 'DROP',
): Promise<PublicationInfo> {
  assertPublicationName(name);
  const names = assertTables(tableNames);
  let tables: QualifiedTable[] = [];
  try {
    tables = await resolveQualified(session, names);
    const existing = await requirePublication(session, name);
    if (existing.allTables) {
      throw new KoyoSlotError(
        'PUBLICATION_MISMATCH',
        `Publication "${name}" is FOR ALL TABLES: it has no table list to change.`,
      );
    }
    const present = (table: QualifiedTable): boolean =>
      existing.tables.some((have) => sameTable(have, table));
    const todo = tables.filter((table) => (action === 'ADD' ? !present(table) : present(table)));
    if (todo.length === 0) return existing;
    await session.query(
      `ALTER PUBLICATION ${quoteIdent(name)} ${action} TABLE ${todo.map(quoteTable).join(', ')}`,
    );
    return await requirePublication(session, name);
  } catch (error) {
    throw mapSqlError(error, { publication: name, tables });
  }
}

/** @internal see {@link SlotManager.dropPublication}. */
export async function dropPublicationOn(session: SqlSession, name: string): Promise<boolean> {
  assertPublicationName(name);
  try {
    const existing = await readPublication(session, name);
    if (!existing) return false;
    await session.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
    return true;
  } catch (error) {
    throw mapSqlError(error, { publication: name });
  }
}
