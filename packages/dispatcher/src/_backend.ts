import type { QualifiedTable, ReplicationStream, TableRef } from '@koyo/slot';
import type { BackfillSource } from './_backfill-source.js';
import type { SlotHealthReader } from './slot-watch.js';
import type { CommittedMessagesLookup } from './assembler.js';
import type { DomainLookup, PrimaryKeyLookup } from './relation-catalog.js';

/** The part of `@koyo/slot`'s {@link ReplicationStream} the dispatcher uses (unit tests fake it). */
export type WireStream = Pick<
  ReplicationStream,
  'acknowledge' | 'stop' | 'receivedLsn' | 'flushedLsn' | typeof Symbol.asyncIterator
> & {
  /** Reconnects so far (optional: synthetic streams in unit tests have none). */
  readonly reconnects?: number;
};

/**
 * Everything the dispatcher needs from PostgreSQL. The real one (`pg-backend.ts`) uses
 * `@koyo/slot`; unit tests pass a synthetic one.
 */
export interface Backend {
  /**
   * Resolves table names like PostgreSQL (the connection's `search_path` for unqualified ones),
   * in order; a name that matches nothing is an error. Changes nothing on the server.
   */
  resolveTables(refs: readonly TableRef[]): Promise<QualifiedTable[]>;
  /**
   * Checks every precondition, then creates/verifies the publication (for `tables`, already
   * resolved; `null`: every table) and the slot. A failed setup leaves the server as it was.
   */
  setup(tables: readonly QualifiedTable[] | null): Promise<void>;
  /** Opens the replication stream (connects lazily, reconnects by itself). */
  openStream(): WireStream;
  /** Commits a transactional `pg_logical_emit_message(true, prefix, token)`. */
  emitMarker(prefix: string, token: string): Promise<void>;
  /** The table's primary key columns (null when none). */
  lookupPrimaryKey: PrimaryKeyLookup;
  /** Parsers for the domain types among these type OIDs (parsing like their base type). */
  lookupDomains: DomainLookup;
  /**
   * Which logical messages a committed streamed transaction really contains, and at which
   * positions, when the stream cannot tell (a message next to a rolled-back subtransaction, or
   * tied with a change on one LSN). Called before any of the transaction is delivered, so the
   * slot has not confirmed it yet.
   */
  lookupCommittedMessages: CommittedMessagesLookup;
  /** The slot's WAL retention and validity (`null`: no such slot); absent in unit tests. */
  slotHealth?: SlotHealthReader;
  /** True when the slot exists already (before setup). */
  slotExists(): Promise<boolean>;
  /** The backfill's side of PostgreSQL. */
  backfill: BackfillSource;
  /** Closes helper connections. */
  close(): Promise<void>;
}
