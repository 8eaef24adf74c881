import { Buffer } from 'node:buffer';
import { CopyTextRowDecoder } from '@koyo/pgoutput';
import { quoteIdent, quoteLiteral } from '@koyo/slot';
import type { ReadChunk, TableShape } from './_backfill-source.js';
import { BACKFILL_PREFIX, type SnapshotRows } from './backfill-windows.js';
import { KoyoDispatcherError } from './errors.js';
import type { DispatcherOptions } from './options.js';
import type { HelperSession } from './helper-session.js';

/** First size of a chunk's byte buffer (it doubles as rows arrive). */
const FIRST_BYTES = 64 * 1024;

/** A table's COPY text row decoder and where its key columns are. */
export class ChunkDecoder {
  readonly decoder: CopyTextRowDecoder;
  readonly keyIndexes: number[];
  /** `schema.table`, for errors. */
  readonly table: string;
  /** Bytes of the table's last chunk: the next one starts with a buffer of about that size. */
  lastBytes = 0;

  constructor(shape: TableShape, typeParsers: DispatcherOptions['typeParsers']) {
    this.table = `${shape.schema}.${shape.table}`;
    this.decoder = new CopyTextRowDecoder(
      shape.columns.map((name, i) => ({ name, typeOid: shape.parserTypes[i]! })),
      typeParsers === undefined ? {} : { typeParsers },
    );
    this.keyIndexes = shape.keyColumns.map((column) => shape.columns.indexOf(column));
  }
}

/** Bytes of a CopyData message's header (type and length) before its row. */
const HEADER = 5;

/**
 * A chunk's rows as the server sent them (its CopyData messages, each a 5-byte header and one
 * COPY text line, back to back in one buffer): a row is decoded only when it is delivered, so a
 * chunk waiting for its high watermark holds its bytes (about the table's size on disk), not
 * 10,000 parsed objects that would outlive the young generation of the garbage collector.
 */
export class ChunkRows implements SnapshotRows {
  private bytes: Buffer;
  private used = 0;
  /** End offset of each row in `bytes` (its start is the previous row's end plus a header). */
  private readonly ends: number[] = [];

  constructor(private readonly decoder: ChunkDecoder) {
    this.bytes = Buffer.allocUnsafe(Math.max(FIRST_BYTES, Math.ceil(decoder.lastBytes * 1.25)));
  }

  get length(): number {
    return this.ends.length;
  }

  /** Bytes of the rows (without the messages' headers). */
  get byteLength(): number {
    return this.used - HEADER * this.ends.length;
  }

  /** Appends a run of whole CopyData messages, `buf[start, end)` (copied: the socket reuses it). */
  push(buf: Buffer, start: number, end: number): void {
    const length = end - start;
    if (this.used + length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + length));
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    const bytes = this.bytes;
    bytes.set(buf.subarray(start, end), this.used);
    let p = this.used;
    this.used += length;
    while (p < this.used) {
      const size =
        (bytes[p + 1]! << 24) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 8) | bytes[p + 4]!;
      p += 1 + size;
      this.ends.push(p);
    }
  }

  /** Decodes row `index` (a new object each call, values exactly as for a streamed insert). */
  row(index: number): Record<string, unknown> {
    const start = (index === 0 ? 0 : this.ends[index - 1]!) + HEADER;
    try {
      return this.decoder.decoder.decode(this.bytes, start, this.ends[index]);
    } catch (error) {
      throw new KoyoDispatcherError(
        'BACKFILL_FAILED',
        `Backfill of ${this.decoder.table}: a row could not be decoded: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The rows are all in: the decoder keeps their size for the table's next chunk. */
  end(): void {
    this.decoder.lastBytes = this.used;
  }

  /** The last row's key columns as the server wrote them (text that casts back exactly). */
  lastKey(): string[] | null {
    const count = this.ends.length;
    if (count === 0) return null;
    const start = (count === 1 ? 0 : this.ends[count - 2]!) + HEADER;
    const texts = this.decoder.decoder.texts(this.bytes, start, this.ends[count - 1]);
    return this.decoder.keyIndexes.map((i) => texts[i]!);
  }
}

/** The chunk's `COPY (SELECT ...) TO STDOUT`: up to `limit` rows after `after`, in key order. */
export function chunkQuery(shape: TableShape, after: readonly string[] | null, limit: number) {
  const keys = shape.keyColumns.map(quoteIdent);
  const filters: string[] = [];
  // COPY takes no parameters: the last key goes in as literals, cast to the key's types.
  if (after !== null)
    filters.push(
      `(${keys.join(', ')}) > (${shape.keyTypes.map((type, i) => `${quoteLiteral(after[i]!)}::${type}`).join(', ')})`,
    );
  if (shape.rowFilter !== null) filters.push(`(${shape.rowFilter})`);
  return `COPY (SELECT ${shape.columns.map(quoteIdent).join(', ')}
    FROM ${quoteIdent(shape.schema)}.${quoteIdent(shape.table)}
    ${filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''}
    ORDER BY ${keys.join(', ')} LIMIT ${limit}) TO STDOUT`;
}

/** `statement` in a transaction of its own, for a simple query of several statements. */
function transaction(statement: string): string[] {
  return ['BEGIN', statement, 'COMMIT'];
}

/**
 * The transaction writing a watermark, for a simple query of several statements; with `when`
 * (an SQL condition), only if it holds (otherwise the transaction writes nothing).
 */
export function watermarkStatements(content: string, when?: string): string[] {
  return transaction(
    `SELECT pg_logical_emit_message(true, ${quoteLiteral(BACKFILL_PREFIX)}, ${quoteLiteral(content)})${when === undefined ? '' : ` WHERE ${when}`}`,
  );
}

/** Session setting carrying "the read saw every committed transaction" to the high watermark. */
const VISIBLE = 'koyo.backfill_read_visible';

/**
 * One chunk read in a REPEATABLE READ transaction, with `COPY (SELECT ...) TO STDOUT` (text
 * format; rows kept as bytes, see {@link ChunkRows}), after the transactions `before` (the low
 * watermark), each committed before the read's snapshot is taken, and followed by the `high`
 * watermark's transaction: one simple query of several statements, one round trip on the
 * session. Returns null when the snapshot missed a transaction that had already committed (its
 * commit record may precede the low watermark, as while a synchronous commit waits for its
 * standby): such a chunk could be older than the stream, so it is read again (with `before`
 * empty: the window stays open), and this read writes no high watermark (the condition is
 * handed from the read's transaction to the next in a session setting). Such a transaction
 * still in the proc array when counted is reported 'in progress' by `pg_xact_status`
 * (PostgreSQL's current releases, all majors): the snapshot's in-progress xids are returned with
 * the rows, and the stream's side redoes the chunk if one of them was delivered before the low
 * watermark.
 */
export async function readChunkOnce(
  reader: HelperSession,
  shape: TableShape,
  after: string[] | null,
  limit: number,
  decoder: ChunkDecoder,
  before: readonly string[],
  high: string,
): Promise<ReadChunk | null> {
  const statements = [
    ...before,
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    chunkQuery(shape, after, limit),
    `SELECT n, xip, set_config('${VISIBLE}', (n = 0)::text, false) AS visible
       FROM (SELECT (count(*) FILTER (WHERE pg_xact_status(x) = 'committed'))::int AS n,
                    coalesce(string_agg((x::text::bigint % 4294967296)::text, ','), '') AS xip
               FROM pg_snapshot_xip(pg_current_snapshot()) AS x) AS snapshot`,
    'COMMIT',
    ...watermarkStatements(high, `current_setting('${VISIBLE}') = 'true'`),
  ];
  const rows = new ChunkRows(decoder);
  // The count's row is the one of three columns (a watermark's SELECT returns its LSN alone).
  let invisible = -1;
  let xip = '';
  let ok = false;
  try {
    await reader.copyOut(
      statements.join(';\n'),
      (buf, start, end) => rows.push(buf, start, end),
      (fields) => {
        if (fields.length !== 3) return;
        invisible = Number(fields[0]);
        xip = fields[1] ?? '';
      },
    );
    ok = true;
  } finally {
    if (!ok) await reader.query('ROLLBACK', []).catch(() => undefined);
  }
  if (!(invisible >= 0)) throw new Error('the chunk read returned no visibility count');
  if (invisible > 0) return null;
  rows.end();
  const inProgress = new Set(xip === '' ? [] : xip.split(',').map(Number));
  return { rows, lastKey: rows.lastKey(), bytes: rows.byteLength, inProgress };
}
