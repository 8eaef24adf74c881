import { quoteIdent, quoteLiteral, type QualifiedTable } from '@koyo/slot';
import { Buffer } from 'node:buffer';
import { CopyTextRowDecoder } from '@koyo/pgoutput';
import type {
  BackfillProgress,
  BackfillSource,
  ReadChunk,
  TableShape,
} from './_backfill-source.js';
import { BACKFILL_PREFIX } from './backfill-windows.js';
import { KoyoDispatcherError } from './errors.js';
import { HelperSession } from './pg-backend.js';
import type { DispatcherOptions } from './options.js';

/** The progress table (WAL-logged, so a crash keeps it; its changes are never dispatched). */
const PROGRESS_TABLE = 'koyo.backfill_progress';
/** Marks "the initial backfill of every dispatched table is owed" until it is expanded. */
const INITIAL = '*';
/** Tries of a chunk read that saw a committed transaction it could not see yet. */
const INVISIBLE_COMMIT_TRIES = 50;

const CREATE_PROGRESS = `
  CREATE SCHEMA IF NOT EXISTS koyo;
  CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (
    slot text NOT NULL,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    last_key text[],
    rows bigint NOT NULL DEFAULT 0,
    chunk_size int,
    done boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (slot, table_schema, table_name)
  )`;

function qualified(table: { schema: string; name: string }): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

function failed(what: string, error: unknown): KoyoDispatcherError {
  if (error instanceof KoyoDispatcherError) return error;
  return new KoyoDispatcherError(
    'BACKFILL_FAILED',
    `Backfill: ${what} failed: ${(error as Error).message}`,
    { cause: error },
  );
}

/** The backfill's PostgreSQL side: catalog, progress table, watermarks and chunk reads. */
export function pgBackfillSource(options: DispatcherOptions): BackfillSource {
  const helper = new HelperSession(options.connection);
  // Chunk reads on their own session: a long read never delays watermarks or progress writes.
  const reader = new HelperSession(options.connection);
  const decoders = new WeakMap<TableShape, ChunkDecoder>();
  const decoderFor = (shape: TableShape): ChunkDecoder => {
    let decoder = decoders.get(shape);
    if (!decoder) decoders.set(shape, (decoder = new ChunkDecoder(shape, options.typeParsers)));
    return decoder;
  };
  let progressReady: Promise<void> | null = null;
  const ensureProgressTable = (): Promise<void> => {
    progressReady ??= (async () => {
      try {
        await helper.query(CREATE_PROGRESS, []);
      } catch (error) {
        // Two dispatchers creating it at once: one wins, the other sees a duplicate.
        const state = (error as { code?: string }).code;
        if (state !== '23505' && state !== '42P06' && state !== '42P07') throw error;
      }
    })().catch((error: unknown) => {
      progressReady = null;
      throw new KoyoDispatcherError(
        'BACKFILL_FAILED',
        `Backfill: creating ${PROGRESS_TABLE} failed: ${(error as Error).message}. The role needs CREATE on the database (or create the schema koyo and let the role create tables in it).`,
        { cause: error },
      );
    });
    return progressReady;
  };

  return {
    async publicationTables() {
      try {
        const rows = await helper.query<{ schema: string; name: string }>(
          `SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables
            WHERE pubname = $1 AND NOT (schemaname = 'koyo' AND tablename = 'backfill_progress')
            ORDER BY 1, 2`,
          [options.publication],
        );
        return rows;
      } catch (error) {
        throw failed(`listing the tables of publication ${options.publication}`, error);
      }
    },

    async describe(table) {
      try {
        return await describeTable(helper, options.publication, table, options.typeParsers);
      } catch (error) {
        throw failed(`reading the catalog entry of ${qualified(table)}`, error);
      }
    },

    async loadProgress(table) {
      await ensureProgressTable();
      try {
        const rows = await helper.query<{
          last_key: string[] | null;
          rows: string;
          chunk_size: number | null;
          done: boolean;
        }>(
          `SELECT last_key, rows::text AS rows, chunk_size, done FROM ${PROGRESS_TABLE}
            WHERE slot = $1 AND table_schema = $2 AND table_name = $3`,
          [options.slot, table.schema, table.name],
        );
        const row = rows[0];
        return row
          ? {
              lastKey: row.last_key,
              rows: Number(row.rows),
              chunkSize: row.chunk_size ?? 0,
              done: row.done,
            }
          : null;
      } catch (error) {
        throw failed(`reading the progress of ${qualified(table)}`, error);
      }
    },

    async saveProgress(table, progress: BackfillProgress) {
      await ensureProgressTable();
      try {
        await helper.query(
          `INSERT INTO ${PROGRESS_TABLE} (slot, table_schema, table_name, last_key, rows, chunk_size, done)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (slot, table_schema, table_name) DO UPDATE
             SET last_key = excluded.last_key, rows = excluded.rows, chunk_size = excluded.chunk_size,
                 done = excluded.done, updated_at = now()`,
          [
            options.slot,
            table.schema,
            table.name,
            progress.lastKey,
            progress.rows,
            progress.chunkSize,
            progress.done,
          ],
        );
      } catch (error) {
        throw failed(`recording the progress of ${qualified(table)}`, error);
      }
    },

    async markInitial() {
      await ensureProgressTable();
      try {
        await helper.query(
          `INSERT INTO ${PROGRESS_TABLE} (slot, table_schema, table_name) VALUES ($1, '', $2)
           ON CONFLICT (slot, table_schema, table_name) DO NOTHING`,
          [options.slot, INITIAL],
        );
      } catch (error) {
        throw failed('recording the initial backfill', error);
      }
    },

    async unfinished(dispatched) {
      try {
        const exists = await helper.query<{ t: string | null }>(
          `SELECT to_regclass('${PROGRESS_TABLE}')::text AS t`,
          [],
        );
        if (exists[0]?.t == null) return [];
        const pending = async (): Promise<QualifiedTable[]> =>
          helper.query<QualifiedTable>(
            `SELECT table_schema AS schema, table_name AS name FROM ${PROGRESS_TABLE}
              WHERE slot = $1 AND NOT done ORDER BY updated_at, 1, 2`,
            [options.slot],
          );
        let tables = await pending();
        if (tables.some((t) => t.schema === '' && t.name === INITIAL)) {
          const list = await dispatched();
          await helper.query(
            `WITH expanded AS (
               INSERT INTO ${PROGRESS_TABLE} (slot, table_schema, table_name)
               SELECT $1, s, n FROM unnest($2::text[], $3::text[]) AS t(s, n)
               ON CONFLICT (slot, table_schema, table_name) DO UPDATE
                 SET last_key = NULL, rows = 0, done = false, updated_at = now()
             )
             DELETE FROM ${PROGRESS_TABLE} WHERE slot = $1 AND table_schema = '' AND table_name = $4`,
            [options.slot, list.map((t) => t.schema), list.map((t) => t.name), INITIAL],
          );
          tables = await pending();
        }
        return tables;
      } catch (error) {
        throw failed(`reading unfinished backfills of slot ${options.slot}`, error);
      }
    },

    async emitWatermark(content) {
      try {
        await helper.query('SELECT pg_logical_emit_message(true, $1, $2)', [
          BACKFILL_PREFIX,
          content,
        ]);
      } catch (error) {
        throw failed(
          'writing a watermark (pg_logical_emit_message; the role needs EXECUTE on it)',
          error,
        );
      }
    },

    async readChunk(shape, after, limit) {
      for (let attempt = 1; ; attempt++) {
        const read = await readOnce(reader, shape, after, limit, decoderFor(shape)).catch(
          (error: unknown) => {
            throw failed(
              `reading a chunk of ${qualified({ schema: shape.schema, name: shape.table })}`,
              error,
            );
          },
        );
        if (read) return read;
        if (attempt >= INVISIBLE_COMMIT_TRIES)
          throw new KoyoDispatcherError(
            'BACKFILL_FAILED',
            `Backfill of ${shape.schema}.${shape.table}: transactions committed before the low watermark stayed invisible for ${attempt} tries (a synchronous standby not confirming?); the chunk was not delivered. Check synchronous_standby_names and start the backfill again.`,
          );
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * attempt)));
      }
    },

    async close() {
      await Promise.all([helper.close(), reader.close()]);
    },
  };
}

/**
 * One chunk read in a REPEATABLE READ transaction, with `COPY (SELECT ...) TO STDOUT` (text
 * format), each row decoded by @koyo/pgoutput as the stream decodes an insert. Returns null
 * when the snapshot missed a transaction that had already committed (its commit record may
 * precede the low watermark, as while a synchronous commit waits for its standby): such a chunk
 * could be older than the stream, so it is read again.
 */
async function readOnce(
  reader: HelperSession,
  shape: TableShape,
  after: string[] | null,
  limit: number,
  decoder: ChunkDecoder,
): Promise<ReadChunk | null> {
  const keys = shape.keyColumns.map(quoteIdent);
  const filters: string[] = [];
  // COPY takes no parameters: the last key goes in as literals, cast to the key's types.
  if (after !== null)
    filters.push(
      `(${keys.join(', ')}) > (${shape.keyTypes.map((type, i) => `${quoteLiteral(after[i]!)}::${type}`).join(', ')})`,
    );
  if (shape.rowFilter !== null) filters.push(`(${shape.rowFilter})`);
  const text = `COPY (SELECT ${shape.columns.map(quoteIdent).join(', ')}
    FROM ${qualified({ schema: shape.schema, name: shape.table })}
    ${filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''}
    ORDER BY ${keys.join(', ')} LIMIT ${limit}) TO STDOUT`;
  await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', []);
  let ok = false;
  try {
    const rows: Record<string, unknown>[] = [];
    await reader.copyOut(text, (bytes) => rows.push(decoder.row(bytes)));
    const invisible = await reader.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_snapshot_xip(pg_current_snapshot()) AS x
        WHERE pg_xact_status(x) = 'committed'`,
      [],
    );
    await reader.query('COMMIT', []);
    ok = true;
    if (invisible[0]!.n > 0) return null;
    return { rows, lastKey: rows.length > 0 ? decoder.lastKey() : null };
  } finally {
    if (!ok) await reader.query('ROLLBACK', []).catch(() => undefined);
  }
}

/**
 * Decodes a table's COPY rows and keeps the last row's bytes, whose key columns' text (the
 * server's output, which casts back exactly) is where the next chunk starts.
 */
class ChunkDecoder {
  private readonly decoder: CopyTextRowDecoder;
  private readonly keyIndexes: number[];
  private last = Buffer.allocUnsafe(256);
  private lastLength = 0;

  constructor(shape: TableShape, typeParsers: DispatcherOptions['typeParsers']) {
    this.decoder = new CopyTextRowDecoder(
      shape.columns.map((name, i) => ({ name, typeOid: shape.parserTypes[i]! })),
      typeParsers === undefined ? {} : { typeParsers },
    );
    this.keyIndexes = shape.keyColumns.map((column) => shape.columns.indexOf(column));
  }

  row(bytes: Buffer): Record<string, unknown> {
    const row = this.decoder.decode(bytes);
    // pg reuses its read buffer: the bytes are copied (no allocation) to be read at the end.
    if (this.last.length < bytes.length) this.last = Buffer.allocUnsafe(bytes.length * 2);
    bytes.copy(this.last, 0, 0, bytes.length);
    this.lastLength = bytes.length;
    return row;
  }

  lastKey(): string[] {
    const texts = this.decoder.texts(this.last, 0, this.lastLength);
    return this.keyIndexes.map((i) => texts[i]!);
  }
}

/** Reads how the table's rows are identified, published and filtered. */
async function describeTable(
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
