/**
 * A value as a string that is equal for equal key values (as parsed by `pg`), for per-row lanes
 * and for matching backfill rows against streamed changes.
 */
export function laneValue(value: unknown): string {
  if (value === null || value === undefined) return 'n';
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value}${String(value)}`;
    default:
      if (value instanceof Date) return `d${value.getTime()}`;
      if (value instanceof Uint8Array)
        return `b${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
      return `j${JSON.stringify(value)}`;
  }
}

/** The key of a row over `columns`, or `null` when a column is missing from the row. */
export function keyText(row: Record<string, unknown>, columns: readonly string[]): string | null {
  let text = '';
  for (const name of columns) {
    const value = row[name];
    if (value === undefined || typeof value === 'symbol') return null;
    text += `\u0000${laneValue(value)}`;
  }
  return text;
}
