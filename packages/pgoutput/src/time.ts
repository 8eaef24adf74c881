/**
 * PostgreSQL's epoch, 2000-01-01T00:00:00Z, in microseconds since the Unix epoch.
 * Replication timestamps on the wire count microseconds from it.
 */
export const PG_EPOCH_UNIX_MICROS = 946_684_800_000_000n;

/** PostgreSQL's epoch in milliseconds since the Unix epoch. */
export const PG_EPOCH_UNIX_MILLIS = 946_684_800_000;

/**
 * Converts a wire timestamp (µs since 2000-01-01T00:00:00Z) into µs since the Unix epoch.
 *
 * @example
 * pgMicrosToUnixMicros(0n); // 946684800000000n
 */
export function pgMicrosToUnixMicros(pgMicros: bigint): bigint {
  return pgMicros + PG_EPOCH_UNIX_MICROS;
}

/**
 * Converts µs since the Unix epoch into a `Date` (rounding down to the millisecond, also before 1970).
 *
 * @example
 * unixMicrosToDate(1_700_000_000_123_999n).toISOString(); // "2023-11-14T22:13:20.123Z"
 */
export function unixMicrosToDate(unixMicros: bigint): Date {
  let millis = unixMicros / 1000n;
  if (unixMicros < 0n && millis * 1000n !== unixMicros) millis -= 1n;
  return new Date(Number(millis));
}

/**
 * The current time as µs since 2000-01-01T00:00:00Z, the clock field of a standby status update.
 */
export function pgNowMicros(): bigint {
  return BigInt(Date.now()) * 1000n - PG_EPOCH_UNIX_MICROS;
}
