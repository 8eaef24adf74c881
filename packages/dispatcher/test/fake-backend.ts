// A dispatcher over a fake backend fed with synthetic pgoutput messages (no server), for the
// engine's unit tests in src/*.test.ts.
import type { PgoutputMessage, RelationColumn, RelationMessage } from '@koyo/pgoutput';
import type { ReplicationEvent } from '@koyo/slot';
import type { Backend, WireStream } from '../src/_backend.js';
import { DispatcherImpl } from '../src/dispatcher.js';
import type { DispatcherOptions } from '../src/options.js';

export class FakeStream implements WireStream {
  readonly acks: bigint[] = [];
  receivedLsn = 0n;
  flushedLsn = 0n;
  private queue: ReplicationEvent[] = [];
  private wake: (() => void) | null = null;
  private stopped = false;

  push(message: PgoutputMessage, lsn = 0n): void {
    if (lsn > this.receivedLsn) this.receivedLsn = lsn;
    this.queue.push({ kind: 'message', lsn, walEnd: lsn, message });
    this.wake?.();
  }

  reconnect(): void {
    this.queue.push({ kind: 'reconnected', startLsn: this.flushedLsn, attempt: 1 });
    this.wake?.();
  }

  acknowledge(lsn: bigint): void {
    this.acks.push(lsn);
    if (lsn > this.flushedLsn) this.flushedLsn = lsn;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    return Promise.resolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplicationEvent> {
    return {
      next: async () => {
        for (;;) {
          const event = this.queue.shift();
          if (event) return { done: false, value: event };
          if (this.stopped) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      },
    };
  }
}

export const column = (name: string, isKey = false): RelationColumn => ({
  name,
  typeOid: 23,
  typeMod: -1,
  isKey,
  flags: isKey ? 1 : 0,
});
export const relation: RelationMessage = {
  tag: 'relation',
  oid: 1,
  schema: 'public',
  name: 'items',
  replicaIdentity: 'default',
  columns: [column('id', true), column('v')],
};

export function setup(
  options: Partial<DispatcherOptions> = {},
  lookupCommittedMessages: Backend['lookupCommittedMessages'] = () =>
    Promise.resolve({ positions: new Map(), total: 0 }),
): {
  dispatcher: DispatcherImpl;
  stream: FakeStream;
} {
  const stream = new FakeStream();
  const backend: Backend = {
    resolveTables: (refs) =>
      Promise.resolve(refs.map((ref) => ({ schema: ref.schema ?? 'public', name: ref.name }))),
    setup: () => Promise.resolve(),
    openStream: () => stream,
    emitMarker: () => Promise.resolve(),
    lookupPrimaryKey: () => Promise.resolve(null),
    lookupDomains: () => Promise.resolve(new Map()),
    lookupCommittedMessages,
    slotExists: () => Promise.resolve(true),
    backfill: {
      publicationTables: () => Promise.resolve([]),
      describe: () => Promise.reject(new Error('no backfill in unit tests')),
      loadProgress: () => Promise.resolve(null),
      saveProgress: () => Promise.resolve(),
      markInitial: () => Promise.resolve(),
      unfinished: () => Promise.resolve([]),
      readChunk: () => Promise.reject(new Error('no backfill in unit tests')),
      close: () => Promise.resolve(),
    },
    close: () => Promise.resolve(),
  };
  const dispatcher = new DispatcherImpl(
    { connection: 'postgres://x', slot: 's', publication: 'p', logger: false, ...options },
    () => backend,
  );
  return { dispatcher, stream };
}

let lsnCounter = 0x1000n;

/** The next commit LSN of a fake transaction, `step` past the previous one. */
export function nextLsn(step: bigint): bigint {
  return (lsnCounter += step);
}
/** Pushes one transaction of `rows` ([id, v]) and returns its commit end LSN. */
export function transaction(stream: FakeStream, rows: [number, number][], xid = 1): bigint {
  const commitLsn = nextLsn(0x100n);
  const endLsn = commitLsn + 0x30n;
  const time = new Date(0);
  stream.push(
    { tag: 'begin', finalLsn: commitLsn, commitTime: time, commitTimeMicros: 0n, xid },
    commitLsn - 0x80n,
  );
  for (const [id, v] of rows)
    stream.push({ tag: 'insert', relation, new: { id, v } }, commitLsn - 0x40n);
  stream.push(
    { tag: 'commit', flags: 0, commitLsn, endLsn, commitTime: time, commitTimeMicros: 0n },
    endLsn,
  );
  return endLsn;
}

export const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}
