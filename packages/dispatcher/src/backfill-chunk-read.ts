import { Buffer } from 'node:buffer';
import { CopyTextRowDecoder } from '@koyo/pgoutput';
import { HEADER, messageSize } from './_copy-out.js';
import { quoteIdent, quoteLiteral } from '@koyo/slot';
import type { ReadChunk, TableShape } from './_backfill-source.js';
import { BACKFILL_PREFIX, type SnapshotRows } from './backfill-windows.js';
import { KoyoDispatcherError } from './errors.js';
import type { DispatcherOptions } from './options.js';
import type { HelperSession } from './helper-session.js';

/** First size of a chunk's byte buffer (it doubles as rows arrive). */
const FIRST_BYTES = 64 * 1024;

/** Buffers of finished chunks a table keeps for its next ones. */
const SPARE_BUFFERS = 2;

/**
 * A table's COPY text row decoder, where its key columns are, and the buffers of its finished
 * chunks: reusing them spares the allocation, the page faults and the unmapping of a fresh
 * buffer of megabytes per chunk (about a fifth of a narrow table's backfill time).
 */
export class ChunkDecoder {
  readonly decoder: CopyTextRowDecoder;
  /** Decodes a row's key columns alone (to match rows against the keys the stream changed). */
  readonly keyDecoder: CopyTextRowDecoder;
  readonly keyIndexes: number[];
  /** `schema.table`, for errors. */
  readonly table: string;
  /** Bytes of the table's last chunk: the next one starts with a buffer of about that size. */
  lastBytes = 0;
  private readonly spare: Buffer[] = [];

  constructor(shape: TableShape, typeParsers: DispatcherOptions['typeParsers']) {
    this.table = `${shape.schema}.${shape.table}`;
    const columns = shape.columns.map((name, i) => ({ name, typeOid: shape.parserTypes[i]! }));
    const options = typeParsers === undefined ? {} : { typeParsers };
    this.decoder = new CopyTextRowDecoder(columns, options);
    this.keyDecoder = new CopyTextRowDecoder(
      columns.map((column) => ({ ...column, skip: !shape.keyColumns.includes(column.name) })),
      options,
    );
    this.keyIndexes = shape.keyColumns.map((column) => shape.columns.indexOf(column));
  }

  /** A buffer of at least `size` bytes: a spare one if one is large enough. */
  take(size: number): Buffer {
    const index = this.spare.findIndex((buffer) => buffer.length >= size);
    return index === -1 ? Buffer.allocUnsafe(size) : this.spare.splice(index, 1)[0]!;
  }

  /** Keeps the buffer of a finished chunk (nothing reads it any more) for a next one. */
  give(buffer: Buffer): void {
    // The latest ones are kept: the next chunks are about as large as the last ones.
    this.spare.push(buffer);
    if (this.spare.length > SPARE_BUFFERS) this.spare.shift();
  }
}

/**
 * A chunk's rows as the server sent them (its CopyData messages, each a 5-byte header and one
 * COPY text line, back to back in one buffer): a row is decoded only when it is delivered, so a
 * chunk waiting for its high watermark holds its bytes (about the table's size on disk), not
 * 10,000 parsed objects that would outlive the young generation of the garbage collector. Rows
 * are found by walking the headers from a cursor (rows are asked for in order, the walk reads
 * the bytes just before they are decoded), so no per-row offsets are kept.
 */
export class ChunkRows implements SnapshotRows {
  private bytes: Buffer;
  private used = 0;
  private count = 0;
  /** Where the last message starts. */
  private last = -1;
  /** Row `cursorIndex` starts at `cursorOffset` (its header). */
  private cursorIndex = 0;
  private cursorOffset = 0;
  private recycled = false;

  constructor(private readonly decoder: ChunkDecoder) {
    this.bytes = decoder.take(Math.max(FIRST_BYTES, Math.ceil(decoder.lastBytes * 1.25)));
  }

  get length(): number {
    return this.count;
  }

  /** Bytes of the rows (without the messages' headers). */
  get byteLength(): number {
    return this.used - HEADER * this.count;
  }

  /**
   * Appends a run of `count` whole CopyData messages, `buf[start, end)`, the last one starting
   * at `last` (copied: the socket's buffer is not ours to keep).
   */
  push(buf: Buffer, start: number, end: number, count: number, last: number): void {
    if (this.recycled) throw new RangeError('the rows of this chunk were recycled');
    const length = end - start;
    if (this.used + length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + length));
      grown.set(this.bytes.subarray(0, this.used));
      this.decoder.give(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(buf.subarray(start, end), this.used);
    this.last = this.used + (last - start);
    this.used += length;
    this.count += count;
  }

  /**
   * Decodes row `index` (a new object each call, values exactly as for a streamed insert; none
   * of them shares memory with the chunk's buffer).
   */
  row(index: number): Record<string, unknown> {
    return this.decode(this.decoder.decoder, index);
  }

  /** Decodes row `index`'s key columns alone (the values `row` has for them). */
  key(index: number): Record<string, unknown> {
    return this.decode(this.decoder.keyDecoder, index);
  }

  private decode(decoder: CopyTextRowDecoder, index: number): Record<string, unknown> {
    if (this.recycled) throw new RangeError('the rows of this chunk were recycled');
    if (!(index >= 0 && index < this.count)) throw new RangeError(`no row ${index}`);
    const bytes = this.bytes;
    if (index < this.cursorIndex) {
      this.cursorIndex = 0;
      this.cursorOffset = 0;
    }
    let p = this.cursorOffset;
    for (let i = this.cursorIndex; i < index; i++) p += messageSize(bytes, p);
    const next = p + messageSize(bytes, p);
    this.cursorIndex = index + 1;
    this.cursorOffset = next;
    try {
      return decoder.decode(bytes, p + HEADER, next);
    } catch (error) {
      throw new KoyoDispatcherError(
        'BACKFILL_FAILED',
        `Backfill of ${this.decoder.table}: a row could not be decoded: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The chunk is finished: its buffer goes back to the table for a next chunk. */
  recycle(): void {
    if (this.recycled) return;
    this.recycled = true;
    this.decoder.give(this.bytes);
  }

  /** The rows are all in: the decoder keeps their size for the table's next chunk. */
  end(): void {
    this.decoder.lastBytes = this.used;
  }

  /** The last row's key columns as the server wrote them (text that casts back exactly). */
  lastKey(): string[] | null {
    if (this.recycled) throw new RangeError('the rows of this chunk were recycled');
    if (this.count === 0) return null;
    const p = this.last;
    const texts = this.decoder.decoder.texts(
      this.bytes,
      p + HEADER,
      p + messageSize(this.bytes, p),
    );
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
      (buf, start, end, count, last) => rows.push(buf, start, end, count, last),
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
