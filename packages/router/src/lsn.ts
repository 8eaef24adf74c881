import { KoyoRouterError } from './errors.js';

/**
 * Parses a PostgreSQL LSN in its text form (`16/B374D848`) into a `bigint`.
 *
 * @example
 * parseLsn('0/16B3748'); // 23803720n
 */
export function parseLsn(text: string): bigint {
  const slash = text.indexOf('/');
  if (
    slash <= 0 ||
    slash === text.length - 1 ||
    !/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(text)
  ) {
    throw new KoyoRouterError(
      'INVALID_OPTION',
      `"${text}" is not a PostgreSQL LSN (expected the form 16/B374D848).`,
    );
  }
  return (BigInt(`0x${text.slice(0, slash)}`) << 32n) | BigInt(`0x${text.slice(slash + 1)}`);
}

/**
 * Formats a `bigint` LSN in PostgreSQL's text form.
 *
 * @example
 * formatLsn(23803720n); // '0/16B3748'
 */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** @internal `1MB`, `512kB`, `10B` in PostgreSQL's units, for reasons such as `lag>1MB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && value % 1024 === 0 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value}${units[unit]}`;
}
