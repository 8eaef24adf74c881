import { parseLsn } from '@koyo/pgoutput';
import type { JetStreamManager } from '@nats-io/jetstream';

/** A change's place in the replication stream: commit LSN, then position in the transaction. */
export interface ChangePlace {
  commitLsn: bigint;
  position: number;
}

/** The message id of a change: `<slot>:<commitLsn>:<position>`. */
export function messageId(slot: string, commitLsn: string, position: number): string {
  return `${slot}:${commitLsn}:${position}`;
}

/** Whether change `a` comes after `b` in commit order. */
export function isAfter(a: ChangePlace, b: ChangePlace): boolean {
  return a.commitLsn > b.commitLsn || (a.commitLsn === b.commitLsn && a.position > b.position);
}

/** Reads `<slot>:<lsn>:<position>` back; null for other slots' (or foreign) ids. */
export function placeOfMessageId(slot: string, id: string | undefined): ChangePlace | null {
  if (!id?.startsWith(`${slot}:`)) return null;
  const rest = id.slice(slot.length + 1);
  const colon = rest.lastIndexOf(':');
  if (colon < 0) return null;
  try {
    return { commitLsn: parseLsn(rest.slice(0, colon)), position: Number(rest.slice(colon + 1)) };
  } catch {
    return null;
  }
}

/**
 * The last change of `slot` the stream holds, found by reading back from the stream's last
 * message until one carries a `Nats-Msg-Id` of this slot. One relay publishes in commit order,
 * so that message is the furthest change JetStream has; everything up to it is stored.
 * With other publishers in the same stream this reads past their messages (one request each).
 */
export async function lastStoredPlace(
  jsm: JetStreamManager,
  stream: string,
  slot: string,
): Promise<ChangePlace | null> {
  const info = await jsm.streams.info(stream);
  const first = info.state.first_seq;
  for (let seq = info.state.last_seq; seq >= first && seq > 0; seq--) {
    let message;
    try {
      message = await jsm.streams.getMessage(stream, { seq });
    } catch {
      continue; // deleted or purged meanwhile
    }
    const place = placeOfMessageId(slot, message?.header?.get('Nats-Msg-Id'));
    if (place) return place;
  }
  return null;
}
