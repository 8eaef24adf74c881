import { randomBytes } from 'node:crypto';
import { PgoutputDecoder, parseLsn } from '@koyo/pgoutput';
import { quoteIdent } from '@koyo/slot';
import pg from 'pg';
import { lsnText } from './_lsn.js';
import type { CommittedTxn } from './assembler.js';
import { KoyoDispatcherError } from './errors.js';
import type { Logger } from './logger.js';

/** SQLSTATE configuration_limit_exceeded: "all replication slots are in use". */
const SLOTS_IN_USE = '53400';
/** 'M', the first byte of a pgoutput logical message. */
const MESSAGE_TAG = 0x4d;

/** Where to read a committed transaction back from. */
export interface CommittedMessagesSource {
  /** A normal (non-replication) session's config. */
  config: pg.ClientConfig;
  slot: string;
  publication: string;
  logger: Logger;
}

/**
 * The transactional logical messages of pgoutput payloads: the LSN of each `M` payload that is
 * transactional. Other payloads are ignored.
 */
export function transactionalMessageLsns(payloads: Iterable<Uint8Array>): Set<bigint> {
  const decoder = new PgoutputDecoder({ protocolVersion: 1, parse: false });
  const lsns = new Set<bigint>();
  for (const payload of payloads) {
    if (payload[0] !== MESSAGE_TAG) continue;
    const message = decoder.decode(payload);
    if (message.tag === 'message' && message.transactional) lsns.add(message.lsn);
  }
  return lsns;
}

/**
 * Reads which transactional logical messages a committed transaction contains by decoding it
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
): Promise<Set<bigint>> {
  const started = Date.now();
  const copy = `koyo_peek_${randomBytes(8).toString('hex')}`;
  const client = new pg.Client(source.config);
  client.on('error', () => undefined); // a lost session fails the query below
  try {
    await client.connect();
    const copied = await client.query<{ lsn: string }>(
      'SELECT lsn::text AS lsn FROM pg_copy_logical_replication_slot($1, $2, true)',
      [source.slot, copy],
    );
    const from = parseLsn(copied.rows[0]!.lsn);
    if (from > txn.commitLsn) {
      throw new KoyoDispatcherError(
        'STREAM_FAILED',
        `Slot ${source.slot} is already confirmed at ${lsnText(from)}, past the commit ${lsnText(txn.commitLsn)} of streamed transaction ${txn.xid}, so its messages cannot be read back; was the slot advanced by another consumer?`,
      );
    }
    const rows = await client.query<{ data: Buffer }>(
      `SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, NULL,
         'proto_version', '1', 'publication_names', $3, 'messages', 'true')
        WHERE xid = $4::text::xid AND get_byte(data, 0) = ${MESSAGE_TAG}`,
      [copy, lsnText(txn.endLsn), quoteIdent(source.publication), String(txn.xid)],
    );
    const lsns = transactionalMessageLsns(rows.rows.map((r) => r.data));
    source.logger.info(
      {
        slot: source.slot,
        xid: txn.xid,
        commitLsn: lsnText(txn.commitLsn),
        messages: lsns.size,
        ms: Date.now() - started,
      },
      'read the logical messages of a streamed transaction with rolled-back subtransactions from a temporary copy of the slot',
    );
    // Best effort: ending the session below drops a temporary slot anyway.
    await client.query('SELECT pg_drop_replication_slot($1)', [copy]).catch(() => undefined);
    return lsns;
  } catch (error) {
    if (error instanceof KoyoDispatcherError) throw error;
    const state = (error as { code?: unknown }).code;
    throw new KoyoDispatcherError(
      'STREAM_FAILED',
      state === SLOTS_IN_USE
        ? `Streamed transaction ${txn.xid} has logical messages next to a rolled-back subtransaction; telling which ones it kept takes a temporary copy of slot ${source.slot}, but every replication slot is in use. Raise max_replication_slots by one, or turn streaming off.`
        : `Could not read the logical messages of streamed transaction ${txn.xid} from a temporary copy of slot ${source.slot}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined); // ends the session, which drops the copy too
  }
}
