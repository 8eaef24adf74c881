import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { KoyoDispatcherError } from './errors.js';
import type { Change, LogicalMessage } from './types.js';

/**
 * One buffered item of a streamed transaction, with the LSN the server sent it at (a change's
 * record start, a message's record end), which is how a non-streamed decoding names it too.
 */
export type StreamedItem =
  | { kind: 'change'; value: Change; lsn: bigint }
  | { kind: 'truncate'; value: Change; lsn: bigint }
  | { kind: 'message'; value: LogicalMessage; lsn: bigint }
  /** A change nobody wants (filtered out): it still takes a position. */
  | { kind: 'skip'; lsn: bigint };

// Values are serialised with v8 (keeps Date, Buffer, bigint, nested arrays/objects). Instances
// of other classes (e.g. pg's interval objects, user typeParsers' results) lose their prototype
// in v8, so they travel wrapped and get it back on the way in. The registry lives in this
// process only, which is all a spill file needs.
const PROTO_TAG = '\u0000koyo-proto';
const protoIds = new Map<object, number>();
const protos: object[] = [];

function isPlainProto(proto: unknown): boolean {
  return proto === Object.prototype || proto === null || proto === Array.prototype;
}

function pack(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (
    value instanceof Date ||
    ArrayBuffer.isView(value) ||
    value instanceof Map ||
    value instanceof Set
  )
    return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const packed = pack(value[i]);
      if (packed !== value[i]) (out ??= value.slice())[i] = packed;
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value) as object | null;
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(value)) props[key] = pack((value as Record<string, unknown>)[key]);
  if (isPlainProto(proto)) return props;
  let id = protoIds.get(proto!);
  if (id === undefined) {
    id = protos.length;
    protos.push(proto!);
    protoIds.set(proto!, id);
  }
  return new Map<string, unknown>([
    [PROTO_TAG, id],
    ['props', props],
  ]);
}

function unpack(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Map) {
    const id = value.get(PROTO_TAG) as number | undefined;
    if (id === undefined) return value;
    const out = Object.create(protos[id]!) as Record<string, unknown>;
    const props = value.get('props') as Record<string, unknown>;
    for (const key of Object.keys(props)) out[key] = unpack(props[key]);
    return out;
  }
  if (value instanceof Date || ArrayBuffer.isView(value) || value instanceof Set) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = unpack(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = unpack(record[key]);
  return record;
}

function packItem(item: StreamedItem): unknown {
  if (item.kind === 'skip' || item.kind === 'message') return item;
  const c = item.value;
  return {
    kind: item.kind,
    value: { ...c, key: pack(c.key), id: pack(c.id), new: pack(c.new), old: pack(c.old) },
    lsn: item.lsn,
  };
}

function unpackItem(raw: unknown): StreamedItem {
  const item = raw as StreamedItem;
  if (item.kind === 'change' || item.kind === 'truncate') {
    const c = item.value;
    c.key = unpack(c.key) as Change['key'];
    c.id = unpack(c.id);
    c.new = unpack(c.new) as Change['new'];
    c.old = unpack(c.old) as Change['old'];
  }
  return item;
}

let spillRoot: string | null = null;
function spillDir(): string {
  if (spillRoot === null) {
    spillRoot = mkdtempSync(join(tmpdir(), 'koyo-dispatcher-'));
    const root = spillRoot;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  return spillRoot;
}

/**
 * The buffered changes of one streamed (in-progress) transaction, kept until its
 * `stream_commit` or `stream_abort`. Past `threshold` items in memory, items are appended to a
 * temporary file, so memory stays bounded however large the transaction is.
 */
export class StreamedTxn {
  private memory: StreamedItem[] = [];
  private spilled = 0;
  private fd: number | null = null;
  private path: string | null = null;
  private fileSize = 0;
  /** First item index of each subtransaction, to cut on a subtransaction abort. */
  private readonly subFirst = new Map<number, number>();
  private readonly subStarts = new Set<number>();
  /** File offset of spilled items that start a subtransaction. */
  private readonly offsets = new Map<number, number>();
  /** The last item before each subtransaction's first item: a message? its LSN. */
  private readonly before = new Map<number, { message: boolean; lsn: bigint }>();
  /** A message sent right after a subtransaction's first item at the same LSN (see `add`). */
  private readonly tiedAfter = new Map<number, StreamedItem>();
  /** The last buffered item: a message? its LSN. */
  private last = { message: false, lsn: -1n };
  private uncertain = false;

  constructor(
    readonly xid: number,
    private readonly threshold: number,
  ) {}

  /** Items buffered. */
  get count(): number {
    return this.spilled + this.memory.length;
  }

  /**
   * True when the stream cannot tell which logical messages the transaction kept, or where
   * they stand among its changes. pgoutput sends a streamed change with its subtransaction's
   * xid but a transactional message with the top-level xid, so a subtransaction abort cannot
   * say whether the messages just before its first change were its own. And a message is
   * ordered by the end of its WAL record, which is the start of the next record: when that is a
   * change of another subtransaction, the server orders the two arbitrarily, and not
   * necessarily as it does without streaming. Then only the committed transaction itself can
   * tell (see `Backend.lookupCommittedMessages`).
   */
  get messagesUncertain(): boolean {
    return this.uncertain;
  }

  /** Appends an item of subtransaction `subXid` (the top-level xid for messages). */
  add(item: StreamedItem, subXid: number): void {
    const message = item.kind === 'message';
    if (item.lsn === this.last.lsn && (message || this.last.message)) {
      this.uncertain = true; // a message and a change tied on one LSN: order unknown
      // Right after a subtransaction's first change, a tied message may be another's that the
      // server sent late: kept aside so a rollback of that subtransaction does not take it.
      if (message && this.subStarts.has(this.count - 1)) this.tiedAfter.set(this.count - 1, item);
    }
    if (!this.subFirst.has(subXid)) {
      this.subFirst.set(subXid, this.count);
      this.subStarts.add(this.count);
      this.before.set(this.count, this.last);
    }
    this.last = { message, lsn: item.lsn };
    this.memory.push(item);
    if (this.memory.length >= this.threshold) this.spill();
  }

  /** A subtransaction rolled back: forget its items and those of any later subtransaction. */
  abortSub(subXid: number): void {
    const first = this.subFirst.get(subXid);
    if (first !== undefined) {
      const tied = this.tiedAfter.get(first);
      this.last = this.before.get(first)!;
      this.cut(first);
      if (tied) this.add(tied, this.xid); // the stream cannot tell: the server will
    }
    // Everything a backend writes after a subtransaction starts belongs to it (or to its nested
    // subtransactions) until it ends, and items arrive in WAL order. So a message of the aborted
    // subtransaction that survived the cut can only sit in the run of messages that now ends
    // the buffer: uncertain exactly when the last remaining item is a message. A message with
    // any change after it that remains is certainly not the aborted subtransaction's.
    if (this.last.message) this.uncertain = true;
  }

  /** Forgets the items from index `first` on. */
  private cut(first: number): void {
    if (first >= this.spilled) {
      this.memory.length = first - this.spilled;
    } else {
      const offset = this.offsets.get(first)!;
      try {
        ftruncateSync(this.fd!, offset);
      } catch (error) {
        throw new KoyoDispatcherError(
          'SPILL_FAILED',
          `Could not truncate the spill file ${this.path} of streamed transaction ${this.xid}.`,
          { cause: error },
        );
      }
      this.fileSize = offset;
      this.spilled = first;
      this.memory = [];
    }
    for (const [sub, index] of this.subFirst) {
      if (index >= first) {
        this.subFirst.delete(sub);
        this.subStarts.delete(index);
      }
    }
    for (const index of this.offsets.keys()) if (index >= first) this.offsets.delete(index);
    for (const index of this.before.keys()) if (index >= first) this.before.delete(index);
    for (const index of this.tiedAfter.keys()) if (index >= first) this.tiedAfter.delete(index);
  }

  /** Every item in order (file first, then memory). Call {@link discard} afterwards. */
  *items(): Generator<StreamedItem> {
    if (this.fd !== null && this.fileSize > 0) {
      let buffer = Buffer.alloc(1 << 20);
      let position = 0;
      let start = 0;
      let end = 0;
      for (;;) {
        let need = 4;
        if (end - start >= 4) {
          const length = buffer.readUInt32LE(start);
          if (end - start >= 4 + length) {
            const item = unpackItem(deserialize(buffer.subarray(start + 4, start + 4 + length)));
            start += 4 + length;
            yield item;
            continue;
          }
          need = 4 + length;
        } else if (start === end && position >= this.fileSize) {
          break;
        }
        if (position >= this.fileSize)
          throw new KoyoDispatcherError(
            'SPILL_FAILED',
            `The spill file ${this.path} of streamed transaction ${this.xid} is truncated.`,
          );
        if (need > buffer.length) {
          const bigger = Buffer.alloc(Math.max(need, buffer.length * 2));
          buffer.copy(bigger, 0, start, end);
          buffer = bigger;
        } else {
          buffer.copy(buffer, 0, start, end);
        }
        end -= start;
        start = 0;
        const read = readSync(
          this.fd,
          buffer,
          end,
          Math.min(buffer.length - end, this.fileSize - position),
          position,
        );
        if (read === 0)
          throw new KoyoDispatcherError(
            'SPILL_FAILED',
            `Unexpected end of the spill file ${this.path}.`,
          );
        position += read;
        end += read;
      }
    }
    yield* this.memory;
  }

  /** Frees memory and removes the spill file. */
  discard(): void {
    this.memory = [];
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    if (this.path !== null) {
      rmSync(this.path, { force: true });
      this.path = null;
    }
  }

  private spill(): void {
    try {
      if (this.fd === null) {
        this.path = join(
          spillDir(),
          `xid-${this.xid}-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`,
        );
        this.fd = openSync(this.path, 'w+');
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for (let i = 0; i < this.memory.length; i++) {
        const index = this.spilled + i;
        if (this.subStarts.has(index)) this.offsets.set(index, this.fileSize + size);
        const body = serialize(packItem(this.memory[i]!));
        const head = Buffer.allocUnsafe(4);
        head.writeUInt32LE(body.length, 0);
        chunks.push(head, body);
        size += 4 + body.length;
      }
      const data = Buffer.concat(chunks, size);
      let written = 0;
      while (written < data.length)
        written += writeSync(
          this.fd,
          data,
          written,
          data.length - written,
          this.fileSize + written,
        );
      this.fileSize += size;
      this.spilled += this.memory.length;
      this.memory = [];
    } catch (error) {
      if (error instanceof KoyoDispatcherError) throw error;
      throw new KoyoDispatcherError(
        'SPILL_FAILED',
        `Could not spill streamed transaction ${this.xid} to ${this.path ?? tmpdir()}: ${(error as Error).message}. Free disk space or lower the transaction size.`,
        { cause: error },
      );
    }
  }
}
