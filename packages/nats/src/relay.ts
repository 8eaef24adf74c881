import {
  createDispatcher,
  type Change,
  type Dispatcher,
  type DispatcherStats,
  type TransactionBatch,
} from '@koyo/dispatcher';
import { parseLsn } from '@koyo/pgoutput';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { KoyoNatsError } from './errors.js';
import { isAfter, lastStoredPlace, messageId, type ChangePlace } from './last-stored.js';
import { changeSubject } from './names.js';
import { partitionOf } from './partition.js';
import {
  isConnection,
  resolveRelayOptions,
  type NatsRelayOptions,
  type ResolvedRelayOptions,
} from './relay-options.js';
import { ensureStream } from './stream.js';

/** Progress of a relay, from {@link NatsRelay.stats}. */
export interface NatsRelayStats {
  /** Messages JetStream stored (PubAck, not duplicate) since start. */
  published: number;
  /** Publishes JetStream answered as duplicates (retries after a lost PubAck). */
  duplicates: number;
  /** Changes not published because the stream already held them (redelivered after a restart). */
  alreadyStored: number;
  /** Publish attempts that failed (NATS unreachable, timeouts); each is retried. */
  publishErrors: number;
  /** True while publishing waits for NATS (the slot does not advance meanwhile). */
  waitingForNats: boolean;
  /** The last change JetStream acknowledged, `<commitLsn>:<position>`, or null. */
  lastPublished: string | null;
  /** The dispatcher's own counters (acknowledged LSN, lag, ...). */
  dispatcher: DispatcherStats;
}

/** A relay from a replication slot into a JetStream stream; see {@link createNatsRelay}. */
export interface NatsRelay {
  /** Connects to NATS, creates or checks the stream, then starts reading the slot. */
  start(): Promise<void>;
  /** Stops reading, lets running publishes finish (or gives them up, unacknowledged), closes what it opened. */
  stop(): Promise<void>;
  /** Progress counters. */
  stats(): NatsRelayStats;
  /** Settles when the relay has stopped: resolves after `stop()`, rejects with the error that stopped it. */
  readonly closed: Promise<void>;
  /** The underlying dispatcher (e.g. for `drain()` in tests). */
  readonly dispatcher: Dispatcher;
}

interface OutgoingMessage {
  subject: string;
  data: string;
  id: string;
  headers: MsgHdrs;
  place: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Relays every committed change of a publication into a NATS JetStream stream, exactly once:
 * subject `<prefix>.<schema>.<table>[.<partition>]`, body the `Change` as JSON, headers
 * `Nats-Msg-Id: <slot>:<commitLsn>:<position>`, `Koyo-Commit-Lsn`, `Koyo-Position`, `Koyo-Table`,
 * `Koyo-Kind`. A transaction is acknowledged to PostgreSQL only once JetStream acknowledged every
 * message of it and of every earlier one; after a restart, what the stream already holds is skipped.
 *
 * @example
 * const relay = createNatsRelay({
 *   dispatcher: { connection: process.env.DATABASE_URL!, slot: 'app', publication: 'app', tables: ['orders'] },
 *   nats: { servers: 'nats://127.0.0.1:4222' },
 *   partitions: 8,
 * });
 * await relay.start();
 * process.on('SIGTERM', () => void relay.stop());
 */
export function createNatsRelay(options: NatsRelayOptions): NatsRelay {
  const resolved = resolveRelayOptions(options);
  const slot = resolved.dispatcher.slot;
  const counters = { published: 0, duplicates: 0, alreadyStored: 0, publishErrors: 0 };
  let waitingForNats = false;
  let lastPublished: string | null = null;
  let started = false;
  let stopping = false;
  let connection: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  // Learned on the first delivery, when this process holds the slot (a standby learns late).
  let stored: ChangePlace | null | undefined;

  const dispatcher = createDispatcher({
    ...resolved.dispatcher,
    // Publishing retries itself until NATS takes it; anything else that fails stops the relay.
    retry: { attempts: 1, backoffMs: 1, maxBackoffMs: 1 },
    onError: () => 'stop',
  });

  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const closed = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  closed.catch(() => undefined); // observed through `closed` by the caller

  const toMessage = (change: Change): OutgoingMessage => {
    const partition = resolved.partitions > 1 ? partitionOf(change.key, resolved.partitions) : null;
    const subject = changeSubject(resolved.subjectPrefix, change.schema, change.table, partition);
    const id = messageId(slot, change.commitLsn, change.position);
    const h = headers();
    h.set('Nats-Msg-Id', id);
    h.set('Koyo-Commit-Lsn', change.commitLsn);
    h.set('Koyo-Position', String(change.position));
    h.set('Koyo-Table', `${change.schema}.${change.table}`);
    h.set('Koyo-Kind', change.kind);
    return {
      subject,
      data: JSON.stringify(change),
      id,
      headers: h,
      place: `${change.commitLsn}:${change.position}`,
    };
  };

  // All messages of a chunk go out in one burst on one connection, and the next chunk only after
  // every PubAck: a connection that drops loses a suffix of the burst, never a message in the
  // middle, so retrying from the first failure keeps the stream in commit order.
  const publishAll = async (messages: OutgoingMessage[]): Promise<void> => {
    let from = 0;
    let backoffMs = 100;
    while (from < messages.length) {
      if (stopping)
        throw new KoyoNatsError(
          'STOPPED',
          'The relay is stopping; this transaction is not acknowledged and comes again on the next start.',
        );
      const burst = messages.slice(from);
      const results = await Promise.allSettled(
        burst.map((message) =>
          js!.publish(message.subject, message.data, {
            msgID: message.id,
            headers: message.headers,
          }),
        ),
      );
      let failedAt = -1;
      for (const [index, result] of results.entries()) {
        if (result.status === 'rejected') {
          if (failedAt < 0) failedAt = index;
          counters.publishErrors += 1;
          continue;
        }
        if (failedAt >= 0) continue; // re-sent below, then counted
        if (result.value.duplicate) counters.duplicates += 1;
        else counters.published += 1;
        lastPublished = burst[index]!.place;
      }
      if (failedAt < 0) break;
      from += failedAt;
      waitingForNats = true;
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, resolved.maxBackoffMs);
    }
    waitingForNats = false;
  };

  // The stream's last sequence after our last confirmed publish (null: to be read again).
  let streamSeq: number | null = null;

  // Fast path: the chunk's messages as core publishes, the last one as a JetStream publish. A
  // server handles one connection's messages in order, so its PubAck at sequence
  // `streamSeq + n` (not a duplicate) proves all n were stored, in order, with nobody else's in
  // between. Anything else (another publisher, a duplicate, a timeout) falls back to one
  // acknowledged publish per message, which stores what is missing and de-duplicates the rest.
  const publishFast = async (messages: OutgoingMessage[]): Promise<boolean> => {
    try {
      streamSeq ??= (await manager!.streams.info(resolved.stream)).state.last_seq;
      const expected = streamSeq + messages.length;
      const last = messages[messages.length - 1]!;
      for (const message of messages.slice(0, -1)) {
        connection!.publish(message.subject, message.data, { headers: message.headers });
      }
      const ack = await js!.publish(last.subject, last.data, {
        msgID: last.id,
        headers: last.headers,
      });
      if (ack.duplicate || ack.seq !== expected) {
        streamSeq = null;
        return false;
      }
      streamSeq = ack.seq;
      counters.published += messages.length;
      lastPublished = last.place;
      return true;
    } catch {
      streamSeq = null;
      return false;
    }
  };

  dispatcher.onTransaction(async (batch: TransactionBatch) => {
    if (stored === undefined)
      stored = await lastStoredPlace(jetstreamManagerFor(), resolved.stream, slot);
    const commitLsn = parseLsn(batch.commitLsn);
    const fresh = stored
      ? batch.changes.filter((change) => isAfter({ commitLsn, position: change.position }, stored!))
      : batch.changes;
    counters.alreadyStored += batch.changes.length - fresh.length;
    if (fresh.length === 0) return;
    const messages = fresh.map(toMessage);
    if (!(await publishFast(messages))) await publishAll(messages);
  });

  let manager: Awaited<ReturnType<typeof jetstreamManager>> | undefined;
  const jetstreamManagerFor = (): NonNullable<typeof manager> => manager!;

  const closeConnection = async (): Promise<void> => {
    if (connection && !isConnection(resolved.nats)) await connection.close().catch(() => undefined);
  };

  dispatcher.closed.then(
    async () => {
      await closeConnection();
      settle.resolve();
    },
    async (error: unknown) => {
      await closeConnection();
      const cause = (error as { cause?: unknown }).cause;
      if (stopping) settle.resolve();
      else if (cause instanceof KoyoNatsError) settle.reject(cause);
      else
        settle.reject(
          new KoyoNatsError('RELAY_FAILED', `The relay stopped: ${(error as Error).message}`, {
            cause: error,
          }),
        );
    },
  );

  return {
    dispatcher,
    closed,
    async start() {
      if (started)
        throw new KoyoNatsError(
          'ALREADY_STARTED',
          'start() was already called; create another relay to start again.',
        );
      started = true;
      try {
        connection = isConnection(resolved.nats) ? resolved.nats : await connectTo(resolved);
        manager = await jetstreamManager(connection);
        await ensureStream(manager, resolved);
        js = jetstream(connection);
      } catch (error) {
        await closeConnection();
        if (error instanceof KoyoNatsError) throw error;
        throw new KoyoNatsError(
          'JETSTREAM_UNAVAILABLE',
          `Could not reach JetStream (${(error as Error).message}): check the NATS servers and that the server runs with JetStream enabled (nats-server -js).`,
          { cause: error },
        );
      }
      await dispatcher.start();
    },
    async stop() {
      stopping = true;
      if (!started) {
        settle.resolve();
        return;
      }
      await dispatcher.stop().catch(() => undefined); // how it ended is in `closed`
      await closed.catch(() => undefined);
    },
    stats() {
      return { ...counters, waitingForNats, lastPublished, dispatcher: dispatcher.stats() };
    },
  };
}

function connectTo(resolved: ResolvedRelayOptions): Promise<NatsConnection> {
  const target = resolved.nats as { servers: string | string[]; name?: string };
  // Reconnect for ever: while NATS is down the relay waits and the slot does not advance.
  return connect({
    servers: target.servers,
    name: target.name ?? `koyo-relay-${resolved.dispatcher.slot}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
}
