import { asPgError, classifyError, KoyoSlotError } from './errors.js';
import { tableLabel, type QualifiedTable } from './identifiers.js';

/**
 * @internal typed errors for management statements: a missing table or schema becomes
 * `TABLE_NOT_FOUND`, a missing privilege `PERMISSION_DENIED` (with what to grant), anything else
 * goes through {@link classifyError}. A {@link KoyoSlotError} is returned as it is.
 */
export function mapSqlError(
  error: unknown,
  context: { slot?: string; publication?: string; tables?: QualifiedTable[] },
): KoyoSlotError {
  if (error instanceof KoyoSlotError) return error;
  const pgError = asPgError(error);
  if (pgError?.code === '42P01' || pgError?.code === '3F000') {
    const list = context.tables?.map(tableLabel).join(', ') ?? '';
    return new KoyoSlotError(
      'TABLE_NOT_FOUND',
      `${pgError.message}. Check the table names (${list}); names are case-sensitive, and unqualified ones are looked up on the search_path.`,
      { cause: error },
    );
  }
  if (pgError?.code === '42501') {
    return new KoyoSlotError(
      'PERMISSION_DENIED',
      `${pgError.message}. Creating a publication needs CREATE on the database and ownership of its tables (FOR ALL TABLES needs a superuser); slots need the REPLICATION attribute (ALTER ROLE name WITH REPLICATION;).`,
      { cause: error },
    );
  }
  return classifyError(error, context.slot === undefined ? {} : { slot: context.slot }).error;
}
