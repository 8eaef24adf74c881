import type { QualifiedTable } from '@koyo/slot';
import type { ChunkShape, SnapshotRows } from './backfill-windows.js';

/** What a backfill knows about a table: how to cut it into chunks and what to select. */
export interface TableShape extends ChunkShape {
  /** SQL types of the key columns (`format_type`), to cast a resumed key back. */
  keyTypes: readonly string[];
  /** Published columns, in table order (the columns a streamed insert has). */
  columns: readonly string[];
  /**
   * Per column, the type OID whose parser the stream applies to it (a domain's base type unless
   * `typeParsers` has the domain itself).
   */
  parserTypes: readonly number[];
  /** The publication's row filter for the table (PostgreSQL 15+), or null. */
  rowFilter: string | null;
  /** `pg_class.reltuples`, or null when the table was never analyzed. */
  estimatedRows: number | null;
}

/** Persisted progress of one table's backfill. */
export interface BackfillProgress {
  /** The last key delivered and acknowledged, as text per key column; null before the first chunk. */
  lastKey: string[] | null;
  /** Rows delivered so far. */
  rows: number;
  /** Rows per chunk of this backfill (a resume goes on with the same size). */
  chunkSize: number;
  done: boolean;
}

/** One chunk as read: its rows and the key of its last row (as text). */
export interface ReadChunk {
  rows: SnapshotRows;
  lastKey: string[] | null;
  /**
   * The transactions in progress for the read's snapshot (32-bit xids, as changes carry them);
   * absent when unknown.
   */
  inProgress?: ReadonlySet<number>;
}

/** What a chunk read writes before it reads, in this order. */
export interface ChunkMarks {
  /** The progress of the chunk delivered before this read (recorded first). */
  progress?: BackfillProgress;
  /** The high watermark of the chunk read before (written after that progress). */
  high?: string;
  /** This chunk's low watermark. */
  low: string;
}

/** Everything a backfill needs from PostgreSQL (the real one is `pg-backfill-source.ts`). */
export interface BackfillSource {
  /** Every table of the publication (the default set of tables to backfill). */
  publicationTables(): Promise<QualifiedTable[]>;
  /** Key, columns and filter of a table; `NO_USABLE_KEY` when rows cannot be identified. */
  describe(table: QualifiedTable): Promise<TableShape>;
  /** This slot's progress for a table (null when never backfilled). */
  loadProgress(table: QualifiedTable): Promise<BackfillProgress | null>;
  /**
   * Records progress; then, with `high`, writes that high watermark (the next chunk's), in a
   * transaction of its own committed after the progress.
   */
  saveProgress(table: QualifiedTable, progress: BackfillProgress, high?: string): Promise<void>;
  /** Records that the slot about to be created owes an initial backfill of every dispatched table. */
  markInitial(): Promise<void>;
  /**
   * Tables whose backfill is unfinished (an interrupted run, or the initial backfill owed:
   * then `tables` are the dispatched tables, recorded here in the same transaction).
   */
  unfinished(tables: () => Promise<QualifiedTable[]>): Promise<QualifiedTable[]>;
  /** Writes a watermark into the slot (a transaction holding only this logical message). */
  emitWatermark(content: string): Promise<void>;
  /**
   * Writes `marks` (each in a transaction of its own, in their order), then reads up to `limit`
   * rows after `after` in key order, in one short read-only transaction whose snapshot is taken
   * after the low watermark's commit.
   */
  readChunk(
    shape: TableShape,
    after: string[] | null,
    limit: number,
    marks: ChunkMarks,
  ): Promise<ReadChunk>;
  close(): Promise<void>;
}
