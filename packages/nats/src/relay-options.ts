import type { DispatcherOptions } from '@koyo/dispatcher';
import type { NatsConnection } from '@nats-io/nats-core';
import { KoyoNatsError } from './errors.js';
import { checkStreamName, checkSubjectPrefix } from './names.js';

/** How to reach NATS: connection options (`servers`, ...) or a connection you own. */
export type NatsTarget = NatsConnection | { servers: string | string[]; name?: string };

/** Options of {@link createNatsRelay}. */
export interface NatsRelayOptions {
  /**
   * The dispatcher that reads the slot (options of `createDispatcher`: `connection`, `slot`,
   * `publication`, `tables`, ...). Its `retry`, `onError`, `deadLetter` and `batchSize` are
   * the relay's own: publishing is retried until NATS takes it.
   */
  dispatcher: Omit<DispatcherOptions, 'retry' | 'onError' | 'deadLetter'>;
  /** NATS servers (`{ servers: 'nats://127.0.0.1:4222' }`) or an open connection (not closed by `stop()`). */
  nats: NatsTarget;
  /** JetStream stream. Default `'KOYO'`. Created when missing. */
  stream?: string;
  /** Subject prefix. Default `'koyo'`: changes go to `koyo.<schema>.<table>[.<partition>]`. */
  subjectPrefix?: string;
  /** Partitions per table (a stable hash of the key, see `partitionOf`). Default 1: no partition token. */
  partitions?: number;
  /** The stream's duplicate window, in ms (and the least an existing stream must have). Default 120 000. */
  duplicateWindowMs?: number;
  /**
   * Chunks (transactions, or `batchSize` changes of a big one) published and not yet confirmed by
   * JetStream before reading the slot waits. Default 16.
   */
  publishWindow?: number;
  /** Publish attempts back off from 100 ms, doubling up to this many ms, while NATS is unreachable. Default 5 000. */
  maxBackoffMs?: number;
}

/** Resolved, frozen relay options. */
export interface ResolvedRelayOptions {
  dispatcher: NatsRelayOptions['dispatcher'];
  nats: NatsTarget;
  stream: string;
  subjectPrefix: string;
  partitions: number;
  duplicateWindowMs: number;
  maxBackoffMs: number;
  publishWindow: number;
}

function positiveInt(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new KoyoNatsError(
      'INVALID_OPTION',
      `${name} must be a positive integer, got ${String(value)}.`,
    );
  }
  return value;
}

/** Validates and defaults the relay's options; bad names fail here, before any connection. */
export function resolveRelayOptions(options: NatsRelayOptions): ResolvedRelayOptions {
  if (!options?.dispatcher || typeof options.dispatcher !== 'object') {
    throw new KoyoNatsError(
      'INVALID_OPTION',
      'dispatcher is required: the createDispatcher options of the slot to relay.',
    );
  }
  if (!options.nats) {
    throw new KoyoNatsError(
      'INVALID_OPTION',
      "nats is required: { servers: 'nats://host:4222' } or a NatsConnection.",
    );
  }
  const duplicateWindowMs = positiveInt(options.duplicateWindowMs, 'duplicateWindowMs', 120_000);
  if (duplicateWindowMs < 1000) {
    throw new KoyoNatsError(
      'INVALID_OPTION',
      `duplicateWindowMs must be at least 1000 ms, got ${duplicateWindowMs}.`,
    );
  }
  return Object.freeze({
    dispatcher: options.dispatcher,
    nats: options.nats,
    stream: checkStreamName(options.stream ?? 'KOYO'),
    subjectPrefix: checkSubjectPrefix(options.subjectPrefix ?? 'koyo'),
    partitions: positiveInt(options.partitions, 'partitions', 1),
    duplicateWindowMs,
    maxBackoffMs: positiveInt(options.maxBackoffMs, 'maxBackoffMs', 5_000),
    publishWindow: positiveInt(options.publishWindow, 'publishWindow', 16),
  });
}

/** Whether `nats` is an open connection rather than options. */
export function isConnection(nats: NatsTarget): nats is NatsConnection {
  return typeof (nats as NatsConnection).publish === 'function';
}
