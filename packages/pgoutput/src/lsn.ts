import { KoyoPgoutputError } from './errors.js';

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * Formats a WAL position the way PostgreSQL prints a `pg_lsn`: high and low 32 bits in
 * upper-case hex without leading zeros, separated by a slash.
 *
 * @example
 * formatLsn(0x16B374D848n); // "16/B374D848"
 * formatLsn(0n);            // "0/0"
 * @throws KoyoPgoutputError `INVALID_LSN` if `lsn` is not within 0..2^64-1.
 */
export function formatLsn(lsn: bigint): string {
  if (typeof lsn !== 'bigint' || lsn < 0n || lsn > MAX_U64) {
    throw new KoyoPgoutputError(
      'INVALID_LSN',
      `An LSN is a bigint from 0 to 2^64-1, got ${String(lsn)}.`,
    );
  }
  const high = Number(lsn >> 32n);
  const low = Number(lsn & 0xffff_ffffn);
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/**
 * Parses the `16/B374D848` form of an LSN (as printed by PostgreSQL, e.g. by
 * `pg_current_wal_lsn()` or `pg_replication_slots.confirmed_flush_lsn`) into a `bigint`.
 * Hex digits may be upper or lower case and carry leading zeros.
 *
 * @example
 * parseLsn('16/B374D848'); // 0x16B374D848n
 * @throws KoyoPgoutputError `INVALID_LSN` for anything else.
 */
export function parseLsn(text: string): bigint {
  const match = typeof text === 'string' ? LSN_TEXT.exec(text.trim()) : null;
  if (!match) {
    throw new KoyoPgoutputError(
      'INVALID_LSN',
      `Not an LSN: ${JSON.stringify(text)}. Expected two hex numbers of up to 8 digits separated by a slash, like "16/B374D848".`,
    );
  }
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}
