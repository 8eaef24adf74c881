import {
  createDispatcher,
  type Change,
  type Dispatcher,
  type DispatcherStats,
  type TransactionBatch,
} from '@koyo/dispatcher';
import { parseLsn } from '@koyo/pgoutput';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { KoyoNatsError } from './errors.js';
import { isAfter, lastStoredPlace, type ChangePlace } from './last-stored.js';
import { changeSubject } from './names.js';
import { partitionOf } from './partition.js';
import { Publisher } from './publisher.js';
import {
  isConnection,
  resolveRelayOptions,
  type NatsRelayOptions,
  type ResolvedRelayOptions,
} from './relay-options.js';
import { ensureStream } from './stream.js';
import type { WireMessage } from './wire.js';

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

  const subjects = new Map<string, string>();
  const subjectOf = (change: Change, partition: number | null): string => {
    const name = `${change.schema}\u0000${change.table}\u0000${partition}`;
    let subject = subjects.get(name);
    if (subject === undefined) {
      subject = changeSubject(resolved.subjectPrefix, change.schema, change.table, partition);
      subjects.set(name, subject);
    }
    return subject;
  };

  const toMessage = (change: Change): WireMessage => {
    const partition = resolved.partitions > 1 ? partitionOf(change.key, resolved.partitions) : null;
    return {
      subject: subjectOf(change, partition),
      data: JSON.stringify(change),
      headerLines: `Nats-Msg-Id: ${slot}:${change.commitLsn}:${change.position}\r\nKoyo-Commit-Lsn: ${change.commitLsn}\r\nKoyo-Position: ${change.position}\r\nKoyo-Table: ${change.schema}.${change.table}\r\nKoyo-Kind: ${change.kind}\r\n`,
    };
  };

  const relayChunk = (batch: TransactionBatch): void | Promise<void> => {
    const commitLsn = parseLsn(batch.commitLsn);
    const fresh = stored
      ? batch.changes.filter((change) => isAfter({ commitLsn, position: change.position }, stored!))
      : batch.changes;
    counters.alreadyStored += batch.changes.length - fresh.length;
    if (fresh.length === 0) return undefined;
    const last = fresh[fresh.length - 1]!;
    const done = batch.defer();
    try {
      return publisher!.submit(fresh.map(toMessage), `${last.commitLsn}:${last.position}`, done);
    } catch (error) {
      done(error); // nothing was sent: the dispatcher stops without acknowledging it
      throw error;
    }
  };

  dispatcher.onTransaction((batch: TransactionBatch) => {
    if (stored !== undefined) return relayChunk(batch);
    return lastStoredPlace(manager!, resolved.stream, slot).then((place) => {
      stored = place;
      return relayChunk(batch);
    });
  });

  let manager: JetStreamManager | undefined;
  let publisher: Publisher | undefined;

  const closeConnection = async (): Promise<void> => {
    publisher?.close();
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
        publisher = new Publisher(connection, jetstream(connection), manager, counters, {
          stream: resolved.stream,
          window: resolved.publishWindow,
          maxBackoffMs: resolved.maxBackoffMs,
          ackTimeoutMs: 5_000,
          isStopping: () => stopping,
          onProgress: (place) => (lastPublished = place),
          onWaiting: (waiting) => (waitingForNats = waiting),
        });
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
