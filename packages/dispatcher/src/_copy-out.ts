import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type pg from 'pg';

/**
 * The one place koyo reaches into pg's connection: pg parses every `CopyData` message of a
 * `COPY ... TO STDOUT` into a message object holding a slice of its read buffer and emits it
 * through two event emitters, which costs more than the backfill's decoding of the row. While a
 * {@link copyOut} runs, a framer in front of pg's parser takes the `CopyData` messages straight
 * from the socket's bytes and hands pg every other message, complete and in order (pg never sees
 * a partial message from it, so its parser's state stays as if it had read the socket itself).
 */

/** The part of pg's connection a submittable talks to. */
interface Connection {
  query(text: string): void;
  stream: Duplex;
}

/**
 * Called with a run of whole `CopyData` messages (headers included), `buf[start, end)`: `count`
 * of them, the last one starting at `last`.
 */
export type CopyDataSink = (
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  last: number,
) => void;

const COPY_DATA = 0x64; // 'd'
/** Bytes of a protocol message's header: its type byte and int32 length (which counts itself). */
export const HEADER = 5;

/** Size of the protocol message at `p`: its type byte plus its int32 length (big-endian). */
export function messageSize(buf: Buffer, p: number): number {
  return 1 + (((buf[p + 1]! << 24) | (buf[p + 2]! << 16) | (buf[p + 3]! << 8) | buf[p + 4]!) >>> 0);
}

/** Splits the socket's bytes into messages: `CopyData` runs to the sink, the rest to pg. @internal */
export class CopyFramer {
  /** Where `CopyData` goes while a COPY of ours runs; null: everything goes to pg. */
  sink: CopyDataSink | null = null;
  /** The pieces of a message not yet complete (a long row spans many reads), and their size. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly toPg: (bytes: Buffer) => void) {}

  readonly onData = (chunk: Buffer): void => {
    if (this.pendingBytes === 0) return this.frame(chunk);
    const first = this.pending[0]!;
    if (first.length < HEADER) {
      // A header split across reads (rare): join it to this read.
      this.pending = [];
      this.pendingBytes = 0;
      return this.frame(Buffer.concat([first, chunk]));
    }
    const size = messageSize(first, 0);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < size) return;
    // Complete: copy that message out of the pieces, then frame the rest of this read in place.
    const rest = chunk.length - (this.pendingBytes - size);
    const message = Buffer.concat([...this.pending.slice(0, -1), chunk.subarray(0, rest)], size);
    this.pending = [];
    this.pendingBytes = 0;
    this.frame(message);
    if (rest < chunk.length) this.frame(chunk.subarray(rest));
  };

  private frame(buf: Buffer): void {
    const end = buf.length;
    let p = 0;
    let forwardFrom = 0;
    while (p + HEADER <= end) {
      const size = messageSize(buf, p);
      if (p + size > end) break;
      if (buf[p] !== COPY_DATA || this.sink === null) {
        p += size;
        continue;
      }
      if (forwardFrom < p) this.toPg(buf.subarray(forwardFrom, p));
      // pg may have ended the COPY (an error) while handling what was forwarded just now.
      if (this.sink === null) {
        forwardFrom = p;
        continue;
      }
      const runStart = p;
      let last = p;
      let count = 1;
      p += size;
      while (p + HEADER <= end && buf[p] === COPY_DATA) {
        const next = messageSize(buf, p);
        if (p + next > end) break;
        last = p;
        p += next;
        count++;
      }
      this.sink(buf, runStart, p, count, last);
      forwardFrom = p;
    }
    if (forwardFrom < p) this.toPg(buf.subarray(forwardFrom, p));
    // pg's parser keeps a reference to the last buffer it got only while it holds a partial
    // message, which it never does here; the partial tail is copied for the next read.
    if (p < end) {
      this.pending = [Buffer.from(buf.subarray(p))];
      this.pendingBytes = end - p;
    }
  }
}

const framers = new WeakMap<Duplex, CopyFramer>();

/**
 * The framer on `stream`, put in front of pg's `data` listener the first time (between
 * queries: pg has read every message of the last one, so no partial message is pending).
 */
function framerOf(stream: Duplex): CopyFramer | null {
  let framer = framers.get(stream);
  if (framer) return framer;
  const listeners = stream.listeners('data');
  if (listeners.length !== 1) return null; // not the socket as pg sets it up: leave it alone
  const toPg = listeners[0] as (bytes: Buffer) => void;
  framer = new CopyFramer(toPg);
  stream.removeListener('data', toPg);
  stream.on('data', framer.onData);
  framers.set(stream, framer);
  return framer;
}

/**
 * Runs `COPY (...) TO STDOUT` on `client` (pg's submittable hook, as pg-copy-streams does) and
 * hands its rows to `onRows` as they arrive, as runs of whole CopyData messages (one per row,
 * each a 5-byte header and the row). The bytes belong to the socket's read buffer: copy them
 * before `onRows` returns. `sql` may hold more statements (one simple query): the rows of a
 * SELECT among them go to `onDataRow`, as text. Resolves with the number of COPY rows once the
 * server is ready for the next query; rejects with the server's error (the statements after
 * the failed one did not run).
 */
export function copyOut(
  client: pg.Client,
  sql: string,
  onRows: CopyDataSink,
  onDataRow: (fields: (string | null)[]) => void = noop,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    let failed: unknown = null;
    let framer: CopyFramer | null = null;
    const take: CopyDataSink = (buf, start, end, count, last) => {
      rows += count;
      if (failed !== null) return;
      try {
        onRows(buf, start, end, count, last);
      } catch (error) {
        failed = error; // the server finishes the COPY; the error is reported at its end
      }
    };
    const finish = (): void => {
      if (framer !== null && framer.sink === take) framer.sink = null;
    };
    const submittable = {
      submit(connection: Connection): void {
        framer = framerOf(connection.stream);
        if (framer !== null) framer.sink = take;
        connection.query(sql);
      },
      // Without a framer (a stream pg did not set up as usual), pg hands over each row.
      handleCopyData(message: { chunk: Buffer }): void {
        const header = Buffer.allocUnsafe(HEADER + message.chunk.length);
        header[0] = COPY_DATA;
        header.writeUInt32BE(4 + message.chunk.length, 1);
        message.chunk.copy(header, HEADER);
        take(header, 0, header.length, 1, 0);
      },
      handleRowDescription: noop,
      handleDataRow(message: { fields: (string | null)[] }): void {
        if (failed === null) onDataRow(message.fields);
      },
      handleCommandComplete: noop,
      handleEmptyQuery: noop,
      handleCopyInResponse: noop,
      handlePortalSuspended: noop,
      handleError(error: unknown): void {
        // An error ends the query: pg clears it as the active query, no ReadyForQuery follows for it.
        finish();
        reject(failed ?? error);
      },
      handleReadyForQuery(): void {
        finish();
        if (failed !== null) reject(failed);
        else resolve(rows);
      },
    };
    void client.query(submittable as unknown as pg.Submittable);
  });
}

function noop(): void {}
