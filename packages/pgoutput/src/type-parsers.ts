import { KoyoPgoutputError } from './errors.js';
import type { TextParser } from './text-values.js';

/**
 * The `typeParsers` option as a map by OID, checked: every key an OID, every value a function.
 *
 * @internal
 */
export function typeParserMap(
  parsers: Record<number, (value: string) => unknown> | undefined,
): Map<number, TextParser> {
  const map = new Map<number, TextParser>();
  for (const [oid, parser] of Object.entries(parsers ?? {})) {
    if (typeof parser !== 'function' || !/^\d+$/.test(oid)) {
      throw new KoyoPgoutputError(
        'INVALID_OPTION',
        `typeParsers maps type OIDs to functions (value: string) => unknown; the entry ${JSON.stringify(oid)} is not one.`,
      );
    }
    map.set(Number(oid), parser);
  }
  return map;
}
