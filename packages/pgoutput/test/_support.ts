// Helpers for the DB tests: capture real pgoutput payloads with pg_logical_slot_peek_binary_changes.
import pg from 'pg';
import {
  parseLsn,
  PgoutputDecoder,
  type DecoderOptions,
  type PgoutputMessage,
} from '../src/index.js';

/** One change as the SQL interface returns it: the LSN and xid the server reports, and the payload. */
export interface Captured {
  lsn: bigint;
  xid: number;
  data: Buffer;
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  await client.connect();
  return client;
}

let slots = 0;

/**
 * A logical slot (not temporary: an error in the session, e.g. a refused option, would drop a
 * temporary one). Drop it with {@link dropSlot}.
 */
export async function createSlot(client: pg.Client, twoPhase = false): Promise<string> {
  const name = `pgo_${process.pid}_${++slots}_${Math.random().toString(36).slice(2, 7)}`;
  await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, $2)`, [
    name,
    twoPhase,
  ]);
  return name;
}

export async function dropSlot(client: pg.Client, slot: string): Promise<void> {
  await client.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
}

/** Runs `use` with a fresh logical slot (two-phase if asked), dropping the slot afterwards. */
export async function withSlot<T>(
  client: pg.Client,
  twoPhase: boolean,
  use: (slot: string) => Promise<T>,
): Promise<T> {
  const slot = await createSlot(client, twoPhase);
  try {
    return await use(slot);
  } finally {
    await dropSlot(client, slot);
  }
}

/** Peeks every change of `slot` with the given pgoutput options (all values are strings). */
export async function peek(
  client: pg.Client,
  slot: string,
  options: Record<string, string>,
): Promise<Captured[]> {
  const args = Object.entries(options).flat();
  const placeholders = args.map((_, i) => `$${i + 2}`).join(', ');
  const { rows } = await client.query<{ lsn: string; xid: string; data: Buffer }>(
    `SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL${args.length ? `, ${placeholders}` : ''})`,
    [slot, ...args],
  );
  return rows.map((row) => ({ lsn: parseLsn(row.lsn), xid: Number(row.xid), data: row.data }));
}

/** Decodes a captured session with a fresh decoder. */
export function decodeAll(
  captured: readonly Captured[],
  options: DecoderOptions = {},
): PgoutputMessage[] {
  const decoder = new PgoutputDecoder(options);
  return captured.map((change) => decoder.decode(change.data));
}

/** The tags of a decoded session, for readable sequence assertions. */
export function tags(messages: readonly PgoutputMessage[]): string[] {
  return messages.map((message) => message.tag);
}

/** Microseconds since the Unix epoch of the server clock, read as exact text. */
export async function serverMicros(client: pg.Client): Promise<bigint> {
  const { rows } = await client.query<{ us: string }>(
    `SELECT (extract(epoch FROM date_trunc('second', t))::bigint * 1000000 + extract(microseconds FROM t)::bigint % 1000000)::text AS us FROM clock_timestamp() t`,
  );
  return BigInt(rows[0]!.us);
}

/** The server's major version (15, 18, ...). */
export async function serverMajor(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ v: string }>(
    `SELECT current_setting('server_version_num') AS v`,
  );
  return Math.floor(Number(rows[0]!.v) / 10000);
}

/** Makes transactions bigger than a few rows stream: PG16+ immediately, PG15 past 64kB of changes. */
export async function forceStreaming(client: pg.Client, major: number): Promise<void> {
  if (major >= 16) await client.query(`SET debug_logical_replication_streaming = immediate`);
  else await client.query(`SET logical_decoding_work_mem = '64kB'`);
}

/** Enough rows to exceed 64kB of decoded changes (PG15's smallest logical_decoding_work_mem). */
export const STREAM_ROWS = 1500;

/** The CopyData messages of `COPY (...) TO STDOUT` (one row each), through pg's submittable hook. */
export function copyOut(client: pg.Client, sql: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const rows: Buffer[] = [];
    let failed: Error | null = null;
    const submittable = {
      submit: (connection: { query(text: string): void }) => connection.query(sql),
      handleCopyData: (message: { chunk: Buffer }) => void rows.push(Buffer.from(message.chunk)),
      handleCommandComplete: () => undefined,
      handleError: (error: Error) => void (failed = error),
      handleReadyForQuery: () => (failed ? reject(failed) : resolve(rows)),
    };
    void client.query(submittable as unknown as pg.Submittable);
  });
}
