import { KoyoSlotError, parseTableName, type TableRef } from '@koyo/slot';
import { KoyoCliError } from './errors.js';

export { quoteIdent, quoteLiteral, quoteTableRef } from '@koyo/slot';

/**
 * Parses a table name with @koyo/slot's parser, the one koyo has (`'users'`, `'app.users'`,
 * `'"My Schema"."Users"'`; an unqualified name is resolved later on the search_path). A
 * malformed name is a `USAGE` error when it came from a flag (`command`), `CONFIG_INVALID`
 * otherwise.
 */
export function parseTable(name: string, command?: string): TableRef {
  try {
    return parseTableName(name);
  } catch (error) {
    if (!(error instanceof KoyoSlotError)) throw error;
    const message = error.message.charAt(0).toLowerCase() + error.message.slice(1);
    throw command === undefined
      ? new KoyoCliError('CONFIG_INVALID', message, { cause: error })
      : new KoyoCliError('USAGE', message, { command, cause: error });
  }
}
