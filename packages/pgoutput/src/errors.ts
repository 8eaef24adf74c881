/**
 * What was wrong with the bytes (or the arguments) handed to `@koyo/pgoutput`.
 *
 * - `TRUNCATED`: the message ended before a field it announces.
 * - `TRAILING_BYTES`: bytes left over after a complete message.
 * - `UNKNOWN_MESSAGE`: an unknown pgoutput message tag.
 * - `UNSUPPORTED_MESSAGE`: a message that the configured `protocolVersion` cannot carry.
 * - `UNKNOWN_RELATION`: a change for a relation whose Relation message this decoder never saw.
 * - `INVALID_MESSAGE`: a field with an impossible value (replica identity, tuple kind, submessage, ...).
 * - `INVALID_VALUE`: a column value that its type parser rejected (the parser's error is the `cause`).
 * - `UNKNOWN_FRAME`: a CopyData body that is neither XLogData (`w`) nor a primary keepalive (`k`).
 * - `INVALID_LSN`: text that is not an LSN like `16/B374D848`, or a bigint outside 0..2^64-1.
 * - `INVALID_OPTION`: a bad decoder option or function argument.
 */
export type KoyoPgoutputErrorCode =
  | 'TRUNCATED'
  | 'TRAILING_BYTES'
  | 'UNKNOWN_MESSAGE'
  | 'UNSUPPORTED_MESSAGE'
  | 'UNKNOWN_RELATION'
  | 'INVALID_MESSAGE'
  | 'INVALID_VALUE'
  | 'UNKNOWN_FRAME'
  | 'INVALID_LSN'
  | 'INVALID_OPTION';

/**
 * The one error class of `@koyo/pgoutput`. Every failure to decode a payload, parse a frame or
 * an LSN is a `KoyoPgoutputError` (never a `RangeError` or `TypeError`), and the decoder that
 * threw stays usable for the next message.
 *
 * `offset` is the byte offset in the payload where the problem was found (`-1` when it is not
 * about a payload), `tag` the message tag (`'insert'`, `'begin'`, ...) when it was known.
 *
 * Its `name` is still `'PgoutputDecodeError'`, the class's name before it followed the
 * `Koyo<Package>Error` rule, so logs and `error.name` checks keep matching; the old name is
 * exported as a deprecated alias of this same class.
 *
 * @example
 * try {
 *   decoder.decode(payload);
 * } catch (error) {
 *   if (error instanceof KoyoPgoutputError && error.code === 'UNKNOWN_RELATION') {
 *     // the stream did not start at a transaction boundary: restart it from the slot
 *   }
 * }
 */
export class KoyoPgoutputError extends Error {
  override readonly name = 'PgoutputDecodeError';
  readonly code: KoyoPgoutputErrorCode;
  readonly offset: number;
  readonly tag: string | undefined;

  constructor(
    code: KoyoPgoutputErrorCode,
    message: string,
    details: { offset?: number; tag?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.offset = details.offset ?? -1;
    this.tag = details.tag;
  }
}

/**
 * The former name of {@link KoyoPgoutputError}: the same class, so `instanceof` works with
 * either name.
 *
 * @deprecated Use {@link KoyoPgoutputError}; this alias goes away in a later minor version.
 * @example
 * if (error instanceof PgoutputDecodeError) console.error(error.code); // same as KoyoPgoutputError
 */
export const PgoutputDecodeError = KoyoPgoutputError;

/**
 * The instance type under its former name: {@link KoyoPgoutputError}.
 *
 * @deprecated Use {@link KoyoPgoutputError}.
 */
export type PgoutputDecodeError = KoyoPgoutputError;

/**
 * The former name of {@link KoyoPgoutputErrorCode}.
 *
 * @deprecated Use {@link KoyoPgoutputErrorCode}.
 */
export type PgoutputDecodeErrorCode = KoyoPgoutputErrorCode;
