/**
 * A byte count for people: `1536` -> `'1.5 kB'` (binary units, as PostgreSQL's `pg_size_pretty`
 * counts). Used by `diagnose` and by the CLI's tables.
 *
 * @example
 * formatBytes(1536); // '1.5 kB'
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
