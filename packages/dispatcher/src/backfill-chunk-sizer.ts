/** Rows of the first chunk of a table when no `chunkSize` is given. */
export const FIRST_CHUNK_ROWS = 1_000;
/** Bytes of row data (as COPY sends them) a chunk aims at when no `chunkSize` is given. */
export const CHUNK_BYTES = 2 * 2 ** 20;
/** Bounds of an adaptive chunk's rows. */
export const MIN_CHUNK_ROWS = 100;
export const MAX_CHUNK_ROWS = 100_000;

/**
 * How many rows the next chunk of a table asks for. A fixed `chunkSize` is used as is. Without
 * one, the first chunk reads {@link FIRST_CHUNK_ROWS} and each next one as many rows as fill
 * about {@link CHUNK_BYTES} at the average row size seen so far (within {@link MIN_CHUNK_ROWS}
 * and {@link MAX_CHUNK_ROWS}): narrow rows make fewer, larger chunks (each chunk costs a round
 * trip), wide rows smaller ones (a chunk's bytes are held until it is delivered).
 */
export class ChunkSizer {
  private rows = 0;
  private bytes = 0;

  /** `fixed`: the caller's `chunkSize`, or undefined for chunks sized by bytes. */
  constructor(private readonly fixed: number | undefined) {}

  /** The size recorded with the progress (0: sized by bytes, also on resume). */
  get recorded(): number {
    return this.fixed ?? 0;
  }

  /** Rows to ask for in the next chunk. */
  next(): number {
    if (this.fixed !== undefined) return this.fixed;
    if (this.rows === 0) return FIRST_CHUNK_ROWS;
    const rows = Math.floor((CHUNK_BYTES * this.rows) / Math.max(1, this.bytes));
    return Math.min(MAX_CHUNK_ROWS, Math.max(MIN_CHUNK_ROWS, rows));
  }

  /** A chunk was read: `rows` rows in `bytes` bytes. */
  read(rows: number, bytes: number): void {
    this.rows += rows;
    this.bytes += bytes;
  }
}
