import { KoyoRouterError } from './errors.js';
import { formatLsn, parseLsn } from './lsn.js';

/** @internal prefix of every read-your-writes token; the digit is the format version. */
export const TOKEN_PREFIX = 'koyo1.';

/** @internal a position to read after: a WAL position, and the time of the write it stands for. */
export interface ReadPosition {
  readonly lsn: bigint | undefined;
  readonly at: number;
}

/**
 * A position another part of the system saw: a token from {@link Router.readYourWritesToken}, a
 * PostgreSQL LSN in text form (`16/B374D848`, e.g. `change.commitLsn` of a koyo handler) or as a
 * `bigint`.
 */
export type PositionLike = string | bigint;

/** @internal the token text for a mark. */
export function formatToken(position: ReadPosition): string {
  return position.lsn !== undefined
    ? `${TOKEN_PREFIX}lsn.${formatLsn(position.lsn)}`
    : `${TOKEN_PREFIX}at.${position.at}`;
}

/** @internal parses a token or LSN; throws `INVALID_TOKEN` for anything else. */
export function parsePosition(value: PositionLike): ReadPosition {
  if (typeof value === 'bigint') {
    if (value < 0n || value > 0xffffffffffffffffn) throw invalid(String(value));
    return { lsn: value, at: Date.now() };
  }
  if (typeof value !== 'string') throw invalid(String(value));
  if (!value.startsWith(TOKEN_PREFIX)) return { lsn: lsnOf(value, value), at: Date.now() };
  const rest = value.slice(TOKEN_PREFIX.length);
  if (rest.startsWith('lsn.')) return { lsn: lsnOf(rest.slice(4), value), at: Date.now() };
  if (rest.startsWith('at.') && /^\d{1,16}$/.test(rest.slice(3))) {
    return { lsn: undefined, at: Math.min(Number(rest.slice(3)), Date.now()) };
  }
  throw invalid(value);
}

function lsnOf(text: string, whole: string): bigint {
  try {
    return parseLsn(text);
  } catch {
    throw invalid(whole);
  }
}

function invalid(value: string): KoyoRouterError {
  return new KoyoRouterError(
    'INVALID_TOKEN',
    `Not a read-your-writes token of @koyo/router nor a PostgreSQL LSN: ${JSON.stringify(value.slice(0, 40))}. Pass router.readYourWritesToken(), a change's commitLsn or an LSN such as '16/B374D848'.`,
  );
}
