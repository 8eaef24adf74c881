import { causes } from './health.js';

/**
 * SQLSTATEs a hot standby raises only because it is in recovery: 25006 (read-only SQL
 * transaction: a write on a standby) and 40001 (a query cancelled by a recovery conflict).
 */
const STANDBY_CODES = new Set(['25006', '40001']);

/**
 * SQLSTATEs that mean "in recovery" only together with a recovery message: 55000 `recovery is in
 * progress` (BRIN/GIN maintenance, WAL control), XX000 `cannot assign TransactionIds during
 * recovery` / `cannot assign OIDs during recovery` (`pg_nextoid`), 0A000 `cannot ... during
 * recovery`, and 40P01 `canceling statement due to conflict with recovery` (buffer deadlock).
 */
const RECOVERY_MESSAGE_CODES = new Set(['55000', 'XX000', '0A000', '40P01']);
const RECOVERY_MESSAGE = /recovery is in progress|during recovery|conflict with recovery/i;

/**
 * Whether `error` is one a hot standby raised because it is in recovery (so the same statement
 * can succeed on the primary), judged by SQLSTATE, and by message only where the SQLSTATE is
 * shared with unrelated errors. Returns that SQLSTATE, or undefined. The error's `cause` chain is
 * searched too (an ORM's wrapper around the driver's error).
 *
 * @example
 * standbyRejection({ code: '25006', message: 'cannot execute INSERT in a read-only transaction' }); // '25006'
 * standbyRejection({ code: '55000', message: 'recovery is in progress' });                          // '55000'
 * standbyRejection({ code: '55000', message: 'cannot drop the currently open database' });          // undefined
 */
export function standbyRejection(error: unknown): string | undefined {
  for (const candidate of causes(error)) {
    const { code, message } = candidate as { code?: unknown; message?: unknown };
    if (typeof code !== 'string') continue;
    if (STANDBY_CODES.has(code)) return code;
    if (
      RECOVERY_MESSAGE_CODES.has(code) &&
      typeof message === 'string' &&
      RECOVERY_MESSAGE.test(message)
    ) {
      return code;
    }
  }
  return undefined;
}
