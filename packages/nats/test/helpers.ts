import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';

export { parseLsn as lsn } from '@koyo/pgoutput';
export {
  uniqueName,
  until as waitFor,
  openPooledDatabase as openDb,
  slotConfirmedFlush as confirmedFlush,
  dropSlotWhenReleased as dropSlot,
  type PooledTestDatabase as Db,
} from '@koyo/testing/vitest';

/** A stored message, decoded: subject, headers, body. */
export interface StreamEntry {
  seq: number;
  /** When JetStream stored it. */
  time: Date;
  subject: string;
  id: string | undefined;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** Every message of a stream, in stream order (server truth). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamEntry[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream).catch(() => null);
  if (!info) return [];
  const entries: StreamEntry[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
    let message: StoredMsg | null;
    try {
      message = await jsm.streams.getMessage(stream, { seq });
    } catch {
      continue;
    }
    if (!message) continue;
    const headers: Record<string, string> = {};
    for (const key of message.header?.keys() ?? []) headers[key] = message.header.get(key);
    entries.push({
      seq,
      time: message.time,
      subject: message.subject,
      id: headers['Nats-Msg-Id'],
      headers,
      body: message.json(),
    });
  }
  return entries;
}
