import {
  KoyoSlotError,
  resolveTables,
  type QualifiedTable,
  type Queryable,
  type TableRef,
} from '@koyo/slot';
import { KoyoCliError } from './errors.js';

/**
 * Resolves `--table` / config table names like PostgreSQL (`search_path` for unqualified ones)
 * with @koyo/slot's resolver. A name that matches nothing is a `NOT_FOUND` error naming the
 * schemas searched.
 */
export async function resolveTableNames(
  client: Queryable,
  refs: readonly TableRef[],
): Promise<QualifiedTable[]> {
  if (refs.length === 0) return [];
  try {
    return (await resolveTables(client, [...refs])).map((table) => ({
      schema: table.schema,
      name: table.name,
    }));
  } catch (error) {
    if (error instanceof KoyoSlotError && error.code === 'TABLE_NOT_FOUND')
      throw new KoyoCliError('NOT_FOUND', error.message, { cause: error });
    throw error;
  }
}
