import { randomBytes } from 'node:crypto';
import { PgoutputDecoder, parseLsn, formatLsn } from '@koyo/pgoutput';
import { quoteIdent, type ConnectionOptions } from '@koyo/slot';
import type pg from 'pg';
import { connectPlain } from './_connection.js';
import type { CommittedMessages, CommittedTxn } from './assembler.js';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';
import type { StreamedItem } from './streamed-txn.js';

/** SQLSTATE configuration_limit_exceeded: "all replication slots are in use". */
const SLOTS_IN_USE = '53400';
/** First bytes of pgoutput payloads: 'M' logical message, 'T' truncate. */
const MESSAGE_TAG = 0x4d;
const TRUNCATE_TAG = 0x54;
/** The payloads that take a position: insert, update, delete, truncate, message. */
const POSITION_TAGS = [0x49, 0x55, 0x44, TRUNCATE_TAG, MESSAGE_TAG];

/** Where to read a committed transaction back from. */
export interface CommittedMessagesSource {
  /** The dispatcher's connection (one host or several: the writable one is used). */
  connection: ConnectionOptions;
  slot: string;
  publication: string;
  logger: Logger;
}

/** The LSN of a transactional logical message's pgoutput payload; null for any other payload. */
export function transactionalMessageLsn(payload: Uint8Array): bigint | null {
  if (payload[0] !== MESSAGE_TAG) return null;
  const message = new PgoutputDecoder({ protocolVersion: 1, parse: false }).decode(payload);
  return message.tag === 'message' && message.transactional ? message.lsn : null;
}

/**
 * Delivers a streamed transaction's items in the committed transaction's order: each kept
 * message at its position, the changes (whose order streaming never changes) in the positions
 * between, messages the transaction did not keep dropped. Items arrive in stream order; an item
 * that arrives before its turn waits (a tied message and change are swapped, nothing more).
 */
export class CommittedArrangement {
  private readonly taken: Set<number>;
  private readonly waiting = new Map<number, StreamedItem>();
  private nextChange = 0;
  private next = 0;

  constructor(private readonly committed: CommittedMessages) {
    this.taken = new Set(committed.positions.values());
  }

  /** Adds the next item in stream order; returns the items whose turn has come, in order. */
  place(item: StreamedItem): { item: StreamedItem; position: number }[] {
    let at: number | undefined;
    if (item.kind === 'message') {
      at = this.committed.positions.get(item.lsn);
      if (at === undefined) return []; // from a rolled-back subtransaction
    } else {
      while (this.taken.has(this.nextChange)) this.nextChange++;
      at = this.nextChange++;
    }
    this.waiting.set(at, item);
    const ready: { item: StreamedItem; position: number }[] = [];
    let turn = this.waiting.get(this.next);
    while (turn) {
      this.waiting.delete(this.next);
      ready.push({ item: turn, position: this.next++ });
      turn = this.waiting.get(this.next);
    }
    return ready;
  }

  /** True once every position of the committed transaction was delivered, and nothing else. */
  get complete(): boolean {
    return this.next === this.committed.total && this.waiting.size === 0;
  }
}

/**
 * Reads where a committed transaction has its transactional logical messages by decoding it
 * without streaming, from a temporary copy of the slot (the slot itself is being streamed).
 * The copy starts where the slot stands; the transaction is not acknowledged yet, so the copy
 * still decodes it. The copy is dropped afterwards (and by the server if this session dies).
 *
 * Costs one free replication slot for the duration and a decode of the WAL from the slot's
 * restart point to the commit. Without a free slot it fails with `STREAM_FAILED` rather than
 * guess.
 */
export async function readCommittedMessages(
  source: CommittedMessagesSource,
  txn: CommittedTxn,
): Promise<CommittedMessages> {
  const started = Date.now();
  const copy = `koyo_peek_${randomBytes(8).toString('hex')}`;
  let client: pg.Client | undefined;
  try {
    client = await connectPlain(source.connection);
    client.on('error', () => undefined); // a lost session fails the query below
    const copied = await client.query<{ lsn: string }>(
      'SELECT lsn::text AS lsn FROM pg_copy_logical_replication_slot($1, $2, true)',
      [source.slot, copy],
    );
    const from = parseLsn(copied.rows[0]!.lsn);
    if (from > txn.commitLsn) {
      throw new KoyoDispatcherError(
        'STREAM_FAILED',
        `Slot ${source.slot} is already confirmed at ${formatLsn(from)}, past the commit ${formatLsn(txn.commitLsn)} of streamed transaction ${txn.xid}, so its messages cannot be read back; was the slot advanced by another consumer?`,
      );
    }
    // One row per transactional message with its position (changes, each truncated table and
    // transactional messages count), and a last row with the transaction's number of positions.
    const rows = await client.query<{ data: Buffer | null; position: string }>(
      `WITH items AS (
         SELECT n, data, CASE get_byte(data, 0)
                  WHEN ${TRUNCATE_TAG} THEN (get_byte(data, 1) << 24) | (get_byte(data, 2) << 16)
                                    | (get_byte(data, 3) << 8) | get_byte(data, 4)
                  WHEN ${MESSAGE_TAG} THEN get_byte(data, 1) & 1
                  ELSE 1 END AS width
           FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, NULL,
                  'proto_version', '1', 'publication_names', $3, 'messages', 'true')
                WITH ORDINALITY AS p(lsn, xid, data, n)
          WHERE xid = $4::text::xid AND get_byte(data, 0) IN (${POSITION_TAGS.join(', ')})
       )
       SELECT data, position::text FROM (
         SELECT n, data, width, sum(width) OVER (ORDER BY n) - width AS position FROM items
       ) t WHERE get_byte(data, 0) = ${MESSAGE_TAG} AND width = 1
       UNION ALL
       SELECT NULL, coalesce(sum(width), 0)::text FROM items`,
      [copy, formatLsn(txn.endLsn), quoteIdent(source.publication), String(txn.xid)],
    );
    const positions = new Map<bigint, number>();
    let total = 0;
    for (const row of rows.rows) {
      if (row.data === null) total = Number(row.position);
      else {
        const lsn = transactionalMessageLsn(row.data);
        if (lsn !== null) positions.set(lsn, Number(row.position));
      }
    }
    source.logger.info(
      {
        slot: source.slot,
        xid: txn.xid,
        commitLsn: formatLsn(txn.commitLsn),
        messages: positions.size,
        positions: total,
        ms: Date.now() - started,
      },
      'read the logical messages of a streamed transaction back from a temporary copy of the slot',
    );
    // Best effort: ending the session below drops a temporary slot anyway.
    await client.query('SELECT pg_drop_replication_slot($1)', [copy]).catch(() => undefined);
    return { positions, total };
  } catch (error) {
    if (error instanceof KoyoDispatcherError) throw error;
    const state = (error as { code?: unknown }).code;
    throw new KoyoDispatcherError(
      'STREAM_FAILED',
      state === SLOTS_IN_USE
        ? `Streamed transaction ${txn.xid} has logical messages the stream cannot place (next to a rolled-back savepoint or tied with a change); reading them back takes a temporary copy of slot ${source.slot}, but every replication slot is in use. Raise max_replication_slots by one, or turn streaming off.`
        : `Could not read the logical messages of streamed transaction ${txn.xid} from a temporary copy of slot ${source.slot}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    await client?.end().catch(() => undefined); // ends the session, which drops the copy too
  }
}
