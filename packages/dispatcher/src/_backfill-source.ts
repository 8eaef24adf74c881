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
  /** Rows per chunk of this backfill (a resume goes on with the same size); 0: sized by bytes. */
  chunkSize: number;
  done: boolean;
}

/** One chunk as read: its rows and the key of its last row (as text). */
export interface ReadChunk {
  rows: SnapshotRows;
  lastKey: string[] | null;
  /** Bytes of the rows as the server sent them. */
  bytes: number;
  /**
   * The transactions in progress for the read's snapshot (32-bit xids, as changes carry them);
   * absent when unknown.
   */
  inProgress?: ReadonlySet<number>;
}

/** The watermarks a chunk read writes around its read. */
export interface ChunkMarks {
  /** Written (and committed) before the read's snapshot is taken. */
  low: string;
  /** Written (and committed) right after the read, when the read is delivered. */
  high: string;
}

/** Everything a backfill needs from PostgreSQL (the real one is `pg-backfill-source.ts`). */
export interface BackfillSource {
  /** Every table of the publication (the default set of tables to backfill). */
  publicationTables(): Promise<QualifiedTable[]>;
  /** Key, columns and filter of a table; `NO_USABLE_KEY` when rows cannot be identified. */
  describe(table: QualifiedTable): Promise<TableShape>;
  /** This slot's progress for a table (null when never backfilled). */
  loadProgress(table: QualifiedTable): Promise<BackfillProgress | null>;
  /** Records a table's progress (committed when this resolves). */
  saveProgress(table: QualifiedTable, progress: BackfillProgress): Promise<void>;
  /** Records that the slot about to be created owes an initial backfill of every dispatched table. */
  markInitial(): Promise<void>;
  /**
   * Tables whose backfill is unfinished (an interrupted run, or the initial backfill owed:
   * then `tables` are the dispatched tables, recorded here in the same transaction).
   */
  unfinished(tables: () => Promise<QualifiedTable[]>): Promise<QualifiedTable[]>;
  /**
   * Writes the low watermark, reads up to `limit` rows after `after` in key order in one short
   * read-only transaction whose snapshot is taken after the low watermark's commit, and writes
   * the high watermark after that transaction (each watermark a transaction holding only its
   * logical message): one round trip. A read that has to be repeated writes no high watermark.
   */
  readChunk(
    shape: TableShape,
    after: string[] | null,
    limit: number,
    marks: ChunkMarks,
  ): Promise<ReadChunk>;
  close(): Promise<void>;
}
