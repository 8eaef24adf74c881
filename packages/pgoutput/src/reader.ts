import { Buffer } from 'node:buffer';
import { KoyoPgoutputError } from './errors.js';

/** Node's unchecked slice decoders: `toString()` minus its argument juggling. */
interface FastSliceBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

const EMPTY = Buffer.alloc(0);

/** Views any Uint8Array as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes `buf[start, end)` as UTF-8. */
export function utf8(buf: Buffer, start: number, end: number): string {
  return (buf as FastSliceBuffer).utf8Slice(start, end);
}

/** Decodes `buf[start, end)` one byte per character (callers use it for ASCII-only text). */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as FastSliceBuffer).latin1Slice(start, end);
}

/** Copies `buf[start, end)` into a new Buffer that does not share memory with `buf`. */
export function copyBytes(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  buf.copy(out, 0, start, end);
  return out;
}

/**
 * A cursor over one payload, reused for every message. Every read checks bounds and throws a
 * `KoyoPgoutputError` (`TRUNCATED`) carrying the offset and the message tag.
 *
 * @internal
 */
export class Reader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;
  /** Tag of the message being read, for errors. */
  tag: string | undefined = undefined;

  reset(buf: Buffer): void {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
    this.tag = undefined;
  }

  truncated(need: number): KoyoPgoutputError {
    return new KoyoPgoutputError(
      'TRUNCATED',
      `Truncated pgoutput ${this.tag ?? 'message'}: needed ${need} more byte(s) at offset ${this.pos}, but the payload has ${this.end} bytes.`,
      { offset: this.pos, tag: this.tag },
    );
  }

  invalid(message: string, offset = this.pos): KoyoPgoutputError {
    return new KoyoPgoutputError('INVALID_MESSAGE', message, { offset, tag: this.tag });
  }

  u8(): number {
    if (this.pos >= this.end) throw this.truncated(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) throw this.truncated(2);
    const b = this.buf;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  i32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw this.truncated(4);
    const b = this.buf;
    this.pos = p + 4;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  u32(): number {
    return this.i32() >>> 0;
  }

  u64(): bigint {
    const p = this.pos;
    if (p + 8 > this.end) throw this.truncated(8);
    this.pos = p + 8;
    return this.buf.readBigUInt64BE(p);
  }

  i64(): bigint {
    const p = this.pos;
    if (p + 8 > this.end) throw this.truncated(8);
    this.pos = p + 8;
    return this.buf.readBigInt64BE(p);
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const start = this.pos;
    const nul = start < this.end ? this.buf.indexOf(0, start) : -1;
    if (nul < 0 || nul >= this.end) {
      throw new KoyoPgoutputError(
        'TRUNCATED',
        `Truncated pgoutput ${this.tag ?? 'message'}: the string at offset ${start} has no terminating NUL byte.`,
        { offset: start, tag: this.tag },
      );
    }
    this.pos = nul + 1;
    return utf8(this.buf, start, nul);
  }

  /** `n` bytes, copied. */
  bytes(n: number): Buffer {
    const p = this.pos;
    if (n < 0 || p + n > this.end) throw this.truncated(n);
    this.pos = p + n;
    return copyBytes(this.buf, p, p + n);
  }

  /** Throws `TRAILING_BYTES` unless the whole payload was read. */
  done(): void {
    if (this.pos !== this.end) {
      throw new KoyoPgoutputError(
        'TRAILING_BYTES',
        `Malformed pgoutput ${this.tag ?? 'message'}: ${this.end - this.pos} unexpected byte(s) after the end of the message at offset ${this.pos}.`,
        { offset: this.pos, tag: this.tag },
      );
    }
  }
}
