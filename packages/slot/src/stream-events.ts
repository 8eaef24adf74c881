import { PgoutputDecoder, type PgoutputMessage } from '@koyo/pgoutput';
import { KoyoSlotError } from './errors.js';
import type { ProtocolVersion } from './protocol.js';

/** What a stream yields: a decoded pgoutput message, or notice that the connection was replaced. */
export type ReplicationEvent =
  | {
      kind: 'message';
      /** The XLogData frame's WAL start: for a commit, its end LSN; 0 for messages without a position (relation, type). */
      lsn: bigint;
      walEnd: bigint;
      message: PgoutputMessage;
    }
  | {
      /**
       * The connection was lost and a new one streams again from `startLsn` (the last confirmed
       * position). Drop any half-assembled transaction: it will be sent again in full.
       */
      kind: 'reconnected';
      startLsn: bigint;
      /** Which attempt succeeded (1 = the first retry). */
      attempt: number;
    };

/** Bytes counted per buffered message on top of its payload: the objects around it. */
export const MESSAGE_OVERHEAD = 160;

/** A received XLogData payload, not decoded yet. */
export interface FrameItem {
  frame: true;
  payload: Buffer;
  lsn: bigint;
  walEnd: bigint;
  /** Payload bytes plus {@link MESSAGE_OVERHEAD}. */
  size: number;
}

/** A connection started streaming (the decoder starts afresh). */
export interface StartItem {
  frame: false;
  size: 0;
  reconnect: boolean;
  startLsn: bigint;
  attempt: number;
  protocolVersion: ProtocolVersion;
}

/** What waits in the stream's queue for the consumer. */
export type StreamItem = FrameItem | StartItem;

/** A copy of an XLogData payload (pg reuses its read buffer) as a queue item. */
export function frameItem(payload: Uint8Array, lsn: bigint, walEnd: bigint): FrameItem {
  const copy = Buffer.from(payload);
  return { frame: true, payload: copy, lsn, walEnd, size: copy.length + MESSAGE_OVERHEAD };
}

/** How values are decoded (see `ReplicationStreamOptions`). */
export interface EventDecoderOptions {
  binary: boolean;
  parse?: boolean | undefined;
  typeParsers?: Record<number, (value: string) => unknown> | undefined;
}

/**
 * The consumer side of a stream: turns queued items into {@link ReplicationEvent}s, decoding
 * payloads in the order they are taken (relation messages are state), with a fresh decoder for
 * each connection.
 */
export class EventDecoder {
  readonly #options: EventDecoderOptions;
  #decoder: PgoutputDecoder | undefined;
  #version = 0;

  constructor(options: EventDecoderOptions) {
    this.#options = options;
  }

  /**
   * The event for `item`; undefined for a start the consumer does not see (the first one).
   * Throws `DECODE_FAILED` for a payload that cannot be decoded.
   */
  toEvent(item: StreamItem): ReplicationEvent | undefined {
    if (!item.frame) {
      if (!this.#decoder || this.#version !== item.protocolVersion) {
        const { binary, parse, typeParsers } = this.#options;
        this.#decoder = new PgoutputDecoder({
          protocolVersion: item.protocolVersion,
          binary,
          ...(parse === undefined ? {} : { parse }),
          ...(typeParsers === undefined ? {} : { typeParsers }),
        });
        this.#version = item.protocolVersion;
      } else {
        this.#decoder.reset();
      }
      if (!item.reconnect) return undefined;
      return { kind: 'reconnected', startLsn: item.startLsn, attempt: item.attempt };
    }
    let message: PgoutputMessage;
    try {
      message = this.#decoder!.decode(item.payload);
    } catch (error) {
      throw new KoyoSlotError(
        'DECODE_FAILED',
        `Could not decode a replication message at ${item.lsn}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return { kind: 'message', lsn: item.lsn, walEnd: item.walEnd, message };
  }
}
