import type { MessageMessage, PgoutputMessage, RelationMessage } from '@koyo/pgoutput';
import { formatLsn } from '@koyo/pgoutput';
import type { ReplicationEvent } from '@koyo/slot';
import { isoMicros } from './_time.js';
import { buildChange, truncateChange, type TxnFields } from './change.js';
import { CommittedArrangement } from './committed-order.js';
import { cacheFor, type Engine, type OpenTxn } from './engine.js';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { HandlerCache, HandlerRegistry } from './registry.js';
import { RelationCatalog, type DomainLookup, type PrimaryKeyLookup } from './relation-catalog.js';
import { toMessage } from './logical-message.js';
import { StreamedTxn, type StreamedItem } from './streamed-txn.js';
import type { Change } from './types.js';
import { isThenable } from './_thenable.js';

/** A committed transaction, as the server names it. */
export interface CommittedTxn {
  xid: number;
  commitLsn: bigint;
  /** End of its commit record. */
  endLsn: bigint;
}

/**
 * Where a committed transaction has its transactional logical messages, as the server decodes
 * it without streaming (messages of rolled-back subtransactions are not there).
 */
export interface CommittedMessages {
  /** Position of each message, by the message's LSN. */
  positions: Map<bigint, number>;
  /** Positions in the transaction: changes (one per truncated table) and messages. */
  total: number;
}

/** Reads a committed transaction's {@link CommittedMessages} from the server. */
export type CommittedMessagesLookup = (txn: CommittedTxn) => Promise<CommittedMessages>;

const PLACEHOLDER: TxnFields = { xid: 0, commitLsn: '0/0', commitTime: '' };

/**
 * Turns replication events into transactions for the {@link Engine}: tracks relations, numbers
 * changes, builds {@link Change} objects, assembles streamed transactions per xid, and forgets
 * half-received state on reconnect.
 */
export class Assembler {
  private readonly relations: RelationCatalog;
  private current: OpenTxn | null = null;
  /** Position of the next item in the current (non-streamed) transaction. */
  private position = 0;
  /** True while skipping a transaction already received before a reconnect. */
  private skipping = false;
  /** Commit LSN of the last transaction received completely. */
  private lastCommitLsn = 0n;
  private readonly streams = new Map<number, StreamedTxn>();
  private streamXid: number | null = null;
  /** LSN of the event being handled: a streamed change's own LSN. */
  private eventLsn = 0n;
  /** The current transaction comes from an ignored replication origin: nothing of it is delivered. */
  private ignored = false;
  /** Streamed transactions (xids) from an ignored origin. */
  private readonly ignoredStreams = new Set<number>();

  constructor(
    private readonly registry: HandlerRegistry,
    private readonly engine: Engine,
    lookupPrimaryKey: PrimaryKeyLookup,
    lookupDomains: DomainLookup,
    private readonly lookupCommittedMessages: CommittedMessagesLookup,
    private readonly logger: Logger,
    private readonly spillThreshold: number,
    private readonly stopping: () => boolean,
    /** Whether transactions of this replication origin are skipped (`ignoreOrigins`). */
    private readonly ignoresOrigin: (name: string) => boolean = () => false,
  ) {
    this.relations = new RelationCatalog(lookupPrimaryKey, lookupDomains);
  }

  /** Feeds one event; returns a promise only when something asynchronous is under way. */
  handle(event: ReplicationEvent): void | Promise<void> {
    if (event.kind === 'reconnected') {
      this.reset(`reconnected at ${formatLsn(event.startLsn)} (attempt ${event.attempt})`);
      return undefined;
    }
    this.eventLsn = event.lsn;
    return this.handleMessage(event.message);
  }

  /**
   * Stopping: handles `event` only when it is the commit of the open transaction and committing
   * it calls no handler, so that transaction is acknowledged once its handlers are done. Any
   * other event is left to the next start.
   */
  commitOnStop(event: ReplicationEvent): void | Promise<void> {
    if (event.kind !== 'message' || event.message.tag !== 'commit') return undefined;
    if (!this.current || !this.engine.commitsQuietly(this.current)) return undefined;
    return this.handleMessage(event.message);
  }

  /**
   * The dispatcher loop's last step once stopping: the next event (`pending`) is handed to
   * {@link Assembler.commitOnStop} only when it is already received. Received means buffered:
   * `next()` then settles before the event loop's next turn (waiting longer would wait for the
   * stream's close, which comes after this).
   */
  commitIfReceived(pending: Promise<IteratorResult<ReplicationEvent>>): Promise<void> {
    return Promise.race([
      pending.catch(() => undefined),
      new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined))),
    ]).then((next) => (next && !next.done ? this.commitOnStop(next.value) : undefined));
  }

  /** Forgets every half-received transaction (their changes will be sent again). */
  reset(reason: string): void {
    if (this.current) {
      this.logger.info(
        { xid: this.current.fields.xid, reason },
        'dropping a half-received transaction; the server sends it again',
      );
      this.engine.drop(this.current);
      this.current = null;
    }
    for (const stream of this.streams.values()) stream.discard();
    this.streams.clear();
    this.ignoredStreams.clear();
    this.ignored = false;
    this.streamXid = null;
    this.skipping = false;
    this.relations.clear();
  }

  /** Releases spill files. */
  close(): void {
    for (const stream of this.streams.values()) stream.discard();
    this.streams.clear();
  }

  private handleMessage(message: PgoutputMessage): void | Promise<void> {
    switch (message.tag) {
      case 'insert':
      case 'update':
      case 'delete':
        return this.rowChange(message);
      case 'begin': {
        if (this.current) this.reset('begin received inside an open transaction');
        this.position = 0;
        this.ignored = false;
        if (message.finalLsn <= this.lastCommitLsn) {
          this.skipping = true; // received completely before a reconnect: handled or being handled
          return undefined;
        }
        this.skipping = false;
        this.current = this.engine.begin({
          xid: message.xid,
          commitLsn: formatLsn(message.finalLsn),
          commitTime: isoMicros(message.commitTimeMicros),
        });
        return undefined;
      }
      case 'commit': {
        const txn = this.current;
        this.current = null;
        if (this.skipping || !txn) {
          this.skipping = false;
          return undefined;
        }
        if (message.commitLsn > this.lastCommitLsn) this.lastCommitLsn = message.commitLsn;
        return this.engine.commit(txn, message.endLsn);
      }
      case 'relation':
        return this.relations.relation(message);
      case 'truncate':
        return this.truncate(message.relations, message.xid);
      case 'message':
        return this.logicalMessage(message);
      case 'stream_start': {
        this.streamXid = message.xid;
        if (!this.streams.has(message.xid)) {
          if (!message.firstSegment) {
            throw new KoyoDispatcherError(
              'PROTOCOL_ERROR',
              `A streamed transaction (xid ${message.xid}) continued without its first segment; restart the dispatcher so the server sends it again from the start.`,
            );
          }
          this.streams.set(message.xid, new StreamedTxn(message.xid, this.spillThreshold));
        }
        return undefined;
      }
      case 'stream_stop':
        this.streamXid = null;
        return undefined;
      case 'stream_abort': {
        const stream = this.streams.get(message.xid);
        if (!stream) return undefined;
        if (message.subXid === message.xid) {
          stream.discard();
          this.streams.delete(message.xid);
          this.ignoredStreams.delete(message.xid);
        } else {
          stream.abortSub(message.subXid);
        }
        return undefined;
      }
      case 'stream_commit': {
        const stream = this.streams.get(message.xid);
        this.streams.delete(message.xid);
        this.ignoredStreams.delete(message.xid);
        if (message.commitLsn <= this.lastCommitLsn) {
          stream?.discard(); // received in full before a reconnect: handled or being handled
          return undefined;
        }
        if (!stream) {
          // Acknowledging past a transaction whose changes never arrived would lose them.
          throw new KoyoDispatcherError(
            'PROTOCOL_ERROR',
            `Streamed transaction ${message.xid} committed but none of its changes were received; restart the dispatcher so the server sends it again.`,
          );
        }
        this.lastCommitLsn = message.commitLsn;
        const fields: TxnFields = {
          xid: message.xid,
          commitLsn: formatLsn(message.commitLsn),
          commitTime: isoMicros(message.commitTimeMicros),
        };
        return this.replay(stream, fields, {
          xid: message.xid,
          commitLsn: message.commitLsn,
          endLsn: message.endLsn,
        });
      }
      case 'origin':
        // Sent before the transaction's first change (streamed: in its first segment only), so
        // everything of the transaction is known to be ignored before any of it is delivered.
        if (this.ignoresOrigin(message.name)) {
          if (this.streamXid !== null) this.ignoredStreams.add(this.streamXid);
          else this.ignored = true;
        }
        return undefined;
      case 'type':
        return undefined;
      default:
        throw new KoyoDispatcherError(
          'PROTOCOL_ERROR',
          `Unexpected ${JSON.stringify((message as { tag: string }).tag)} message: two-phase decoding is not supported by the dispatcher; use a slot without two_phase.`,
        );
    }
  }

  private rowChange(
    message: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>,
  ): void | Promise<void> {
    const info = this.relations.info(message.relation);
    const cache = cacheFor(this.registry, info);
    if (this.streamXid !== null) {
      if (this.ignoredStreams.has(this.streamXid)) return undefined;
      const item: StreamedItem = cache.wanted
        ? { kind: 'change', value: buildChange(info, message, PLACEHOLDER, 0), lsn: this.eventLsn }
        : { kind: 'skip', lsn: this.eventLsn };
      this.streamed().add(item, message.xid ?? this.streamXid);
      return undefined;
    }
    const position = this.position++;
    const txn = this.current;
    if (!txn || !cache.wanted || this.ignored) return undefined;
    return this.engine.change(txn, buildChange(info, message, txn.fields, position), cache);
  }

  private truncate(relations: RelationMessage[], xid: number | undefined): void | Promise<void> {
    const txn = this.current;
    const changes: { change: Change; cache: HandlerCache }[] = [];
    for (const relation of relations) {
      const info = this.relations.info(relation);
      const cache = cacheFor(this.registry, info);
      if (this.streamXid !== null) {
        if (this.ignoredStreams.has(this.streamXid)) continue;
        this.streamed().add(
          cache.wanted
            ? { kind: 'truncate', value: truncateChange(info, PLACEHOLDER, 0), lsn: this.eventLsn }
            : { kind: 'skip', lsn: this.eventLsn },
          xid ?? this.streamXid,
        );
        continue;
      }
      const position = this.position++;
      if (txn && cache.wanted)
        changes.push({ change: truncateChange(info, txn.fields, position), cache });
    }
    if (!txn || changes.length === 0 || this.ignored) return undefined;
    return this.engine.truncate(txn, changes);
  }

  private logicalMessage(message: MessageMessage): void | Promise<void> {
    if (!message.transactional) return this.engine.message(null, toMessage(message, null, 0));
    if (this.streamXid !== null) {
      if (this.ignoredStreams.has(this.streamXid)) return undefined;
      this.streamed().add(
        { kind: 'message', value: toMessage(message, PLACEHOLDER, 0), lsn: message.lsn },
        message.xid ?? this.streamXid,
      );
      return undefined;
    }
    const position = this.position++;
    const txn = this.current;
    if (!txn || this.ignored) return undefined;
    return this.engine.message(txn, toMessage(message, txn.fields, position));
  }

  /** Where the committed transaction has its messages, or why that is unknown. */
  private async committedMessages(committed: CommittedTxn): Promise<CommittedMessages> {
    try {
      return await this.lookupCommittedMessages(committed);
    } catch (error) {
      if (error instanceof KoyoDispatcherError) throw error;
      throw new KoyoDispatcherError(
        'STREAM_FAILED',
        `Could not read which logical messages streamed transaction ${committed.xid} kept: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  private streamed(): StreamedTxn {
    const stream = this.streams.get(this.streamXid!);
    if (!stream)
      throw new KoyoDispatcherError(
        'PROTOCOL_ERROR',
        `Changes of streamed transaction ${this.streamXid} arrived outside its stream.`,
      );
    return stream;
  }

  private async replay(
    stream: StreamedTxn,
    fields: TxnFields,
    committed: CommittedTxn,
  ): Promise<void> {
    // Tracked from here on, so nothing at or after this commit is acknowledged meanwhile: the
    // server still has the transaction to decode for the lookup below.
    const txn = this.engine.begin(fields);
    this.current = txn;
    const caches = new Map<string, HandlerCache>();
    const cacheOf = (change: Change): HandlerCache => {
      const name = `${change.schema}\u0000${change.table}`;
      const cache = this.registry.handlersFor(
        change.schema,
        change.table,
        caches.get(name) ?? null,
      );
      caches.set(name, cache);
      return cache;
    };
    const deliver = (item: StreamedItem, at: number): void | Promise<void> => {
      if (item.kind === 'skip') return undefined;
      const value = item.value;
      value.xid = fields.xid;
      value.commitLsn = fields.commitLsn;
      value.commitTime = fields.commitTime;
      value.position = at;
      if (item.kind === 'message') return this.engine.message(txn, item.value);
      if (item.kind === 'truncate')
        return this.engine.truncate(txn, [{ change: item.value, cache: cacheOf(item.value) }]);
      return this.engine.change(txn, item.value, cacheOf(item.value));
    };
    try {
      const arrangement = stream.messagesUncertain
        ? new CommittedArrangement(await this.committedMessages(committed))
        : null;
      let position = 0;
      for (const item of stream.items()) {
        if (this.stopping()) {
          this.engine.drop(txn); // not acknowledged: the server sends it again next time
          return;
        }
        if (arrangement) {
          for (const ready of arrangement.place(item)) {
            const result = deliver(ready.item, ready.position);
            if (isThenable(result)) await result;
          }
        } else {
          const result = deliver(item, position++);
          if (isThenable(result)) await result;
        }
      }
      if (arrangement && !arrangement.complete) {
        // The server's transaction has something the stream did not bring: acknowledging it
        // would lose that.
        throw new KoyoDispatcherError(
          'PROTOCOL_ERROR',
          `Streamed transaction ${fields.xid} (commit ${fields.commitLsn}) did not arrive as the server has it; restart the dispatcher so the server sends it again.`,
        );
      }
      this.current = null;
      await this.engine.commit(txn, committed.endLsn);
    } finally {
      stream.discard();
      if (this.current === txn) this.current = null;
    }
  }
}
