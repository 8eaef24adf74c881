import { quoteLiteral, type QualifiedTable } from '@koyo/slot';
import type { BackfillProgress, BackfillSource, TableShape } from './_backfill-source.js';
import { describeTable, qualified } from './backfill-catalog.js';
import { ChunkDecoder, readChunkOnce, watermarkStatements } from './backfill-chunk-read.js';
import { KoyoDispatcherError } from './errors.js';
import { HelperSession } from './helper-session.js';
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

const WATERMARK = 'writing a watermark (pg_logical_emit_message; the role needs EXECUTE on it)';

/** Whether a failed simple query of several statements failed at writing a watermark. */
function watermarkFailed(error: unknown): boolean {
  return /pg_logical_emit_message/.test((error as Error).message);
}

/** The upsert of a table's progress, with literals (for a simple query of several statements). */
function progressStatement(
  slot: string,
  table: QualifiedTable,
  progress: BackfillProgress,
): string {
  const key =
    progress.lastKey === null
      ? 'NULL'
      : `ARRAY[${progress.lastKey.map(quoteLiteral).join(', ')}]::text[]`;
  return `INSERT INTO ${PROGRESS_TABLE} (slot, table_schema, table_name, last_key, rows, chunk_size, done)
    VALUES (${[slot, table.schema, table.name].map(quoteLiteral).join(', ')}, ${key},
            ${Math.trunc(progress.rows)}, ${Math.trunc(progress.chunkSize)}, ${progress.done})
    ON CONFLICT (slot, table_schema, table_name) DO UPDATE
      SET last_key = excluded.last_key, rows = excluded.rows, chunk_size = excluded.chunk_size,
          done = excluded.done, updated_at = now()`;
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
        await helper.query(progressStatement(options.slot, table, progress), []);
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

    async readChunk(shape, after, limit, marks) {
      await ensureProgressTable();
      const table = { schema: shape.schema, name: shape.table };
      for (let attempt = 1; ; attempt++) {
        const read = await readChunkOnce(
          reader,
          shape,
          after,
          limit,
          decoderFor(shape),
          // A repeated read keeps the window open since the first low watermark.
          attempt === 1 ? watermarkStatements(marks.low) : [],
          marks.high,
        ).catch((error: unknown) => {
          throw failed(
            watermarkFailed(error) ? WATERMARK : `reading a chunk of ${qualified(table)}`,
            error,
          );
        });
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
