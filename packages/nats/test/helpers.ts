import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import pg from 'pg';
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';

let slotCounter = 0;

/** A slot/publication name unique to this process and call (slots are cluster-wide). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${++slotCounter}_${Math.random().toString(36).slice(2, 6)}`;
}

/** A test database with a small query helper. */
export interface Db extends TestDatabase {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  close(): Promise<void>;
}

export async function openDb(prefix: string): Promise<Db> {
  const db = await createTestDatabase(prefix);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  return Object.assign(db, {
    async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]> {
      return (await pool.query<R>(sql, params)).rows;
    },
    async close(): Promise<void> {
      await pool.end();
    },
  });
}

/** The slot's confirmed_flush_lsn as a bigint (server truth). */
export async function confirmedFlush(db: Db, slot: string): Promise<bigint> {
  const rows = await db.query<{ lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const text = rows[0]?.lsn;
  if (!text) throw new Error(`slot ${slot} not found`);
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** Parses 'X/Y' into a bigint. */
export function lsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** Polls `check` until it returns true (a budget, not an assertion). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Drops a slot once no process holds it (tests clean up their slots on the shared cluster). */
export async function dropSlot(db: Db, slot: string): Promise<void> {
  await waitFor(async () => {
    const rows = await db.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return rows.length === 0 || !rows[0]!.active;
  }, `slot ${slot} to be released`);
  await db.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
}

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
