import type { ChangeKind } from './types.js';

/** Every change kind, in the order object-form handlers list them (`onTable(name, { insert, ... })`). */
export const CHANGE_KINDS: readonly ChangeKind[] = Object.freeze([
  'insert',
  'update',
  'delete',
  'truncate',
  'snapshot',
]);

/**
 * Whether `value` can take table handlers like a dispatcher (an object with `onTable`): the check
 * the Knex and Drizzle `onTable` bindings make on their first argument, for callers without types.
 *
 * @example
 * if (!isChangeSource(dispatcher)) throw new TypeError('expected a dispatcher from createDispatcher()');
 */
export function isChangeSource(
  value: unknown,
): value is { onTable: (...args: never[]) => unknown } {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { onTable?: unknown }).onTable === 'function'
  );
}
