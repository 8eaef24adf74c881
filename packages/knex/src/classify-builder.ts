/**
 * What a Knex builder says about the statement it will run, before any SQL is looked at.
 * `role: 'write'` sends the statement to the primary even when its SQL reads (schema
 * introspection such as `hasTable`, migrations); `undefined` means the builder does not know
 * (`knex.raw`, unknown builders) and the SQL classifier of `@koyo/router` decides alone.
 */
export interface BuilderClassification {
  /** `read` for `select`/`first`/`pluck`/aggregates without a row lock; `write` otherwise. */
  readonly role: 'read' | 'write';
  /** Why, e.g. `builder:select`, `builder:forUpdate`, `builder:insert`, `builder:with-insert`, `builder:schema`. */
  readonly reason: string;
}

const READ_METHODS = new Set(['select', 'first', 'pluck', 'columnInfo']);

interface BuilderShape {
  readonly _method?: unknown;
  readonly _single?: { lock?: unknown; waitMode?: unknown };
  readonly _statements?: readonly { grouping?: unknown; value?: unknown }[];
  readonly _sequence?: unknown;
  readonly isRawInstance?: unknown;
}

function isQueryBuilder(value: unknown): value is BuilderShape {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as BuilderShape)._method === 'string' &&
    Array.isArray((value as BuilderShape)._statements)
  );
}

/**
 * Classifies a Knex builder (query builder, schema builder or raw) from what Knex knows about it.
 * Reads: `select`, `first`, `pluck`, `count`/`min`/`max`/... and `columnInfo`. Writes: row locks
 * (`forUpdate`, `forShare`, `forNoKeyUpdate`, `forKeyShare`, with or without `skipLocked`/`noWait`),
 * `insert`, `update`, `del`, `upsert`, `increment`, `truncate`, CTEs (`with`) whose body writes,
 * and every schema builder statement. Returns `undefined` for `knex.raw` (its SQL decides).
 *
 * The routed client combines it with the SQL classifier: a statement runs on the primary when
 * either says write, so a `select` calling `nextval()` still goes to the primary.
 *
 * @example
 * classifyBuilder(knex('jobs').select('*').forUpdate().skipLocked()); // { role: 'write', reason: 'builder:forUpdate' }
 * classifyBuilder(knex.schema.hasTable('users'));                     // { role: 'write', reason: 'builder:schema' }
 */
export function classifyBuilder(builder: unknown): BuilderClassification | undefined {
  if (typeof builder !== 'object' || builder === null) return undefined;
  const b = builder as BuilderShape;
  if (b.isRawInstance === true) return undefined;
  if (Array.isArray(b._sequence)) return { role: 'write', reason: 'builder:schema' };
  if (!isQueryBuilder(b)) return undefined;
  return classifyQuery(b, 0);
}

function classifyQuery(b: BuilderShape, depth: number): BuilderClassification {
  const method = b._method as string;
  if (!READ_METHODS.has(method))
    return { role: 'write', reason: `builder:${depth > 0 ? 'with-' : ''}${method}` };
  const lock = b._single?.lock;
  if (typeof lock === 'string' && lock !== '') return { role: 'write', reason: `builder:${lock}` };
  for (const statement of b._statements ?? []) {
    if (statement.grouping !== 'with' || !isQueryBuilder(statement.value) || depth > 16) continue;
    const inner = classifyQuery(statement.value, depth + 1);
    if (inner.role === 'write')
      return inner.reason.startsWith('builder:with-')
        ? inner
        : { role: 'write', reason: inner.reason.replace('builder:', 'builder:with-') };
  }
  return { role: 'read', reason: `builder:${method}` };
}
