/** Output helpers shared by the commands: byte sizes, tables, JSON lines, redacted URLs. */
import { redactConnection } from '@koyo/status';

export { formatBytes } from '@koyo/slot';

/** `1234567` -> `'1,234,567'`. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A connection string with its password replaced by `***`, for messages (`@koyo/status` owns the rule). */
export const redactUrl: (url: string) => string = redactConnection;

/**
 * `JSON.stringify` for decoded row values: bigints become strings, byte arrays become
 * PostgreSQL's `\x...` hex text, Dates become ISO strings (as usual).
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array)
      return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
    if (
      typeof v === 'object' &&
      v !== null &&
      (v as { type?: unknown }).type === 'Buffer' &&
      Array.isArray((v as { data?: unknown }).data)
    ) {
      return `\\x${Buffer.from((v as { data: number[] }).data).toString('hex')}`;
    }
    return v;
  });
}

/** Renders rows as an aligned text table with a header line. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** A text progress bar: `[██████░░░░]`. `ratio` is clamped to 0..1. */
export function progressBar(ratio: number, width = 24): string {
  const clamped = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 0;
  const full = Math.round(clamped * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}
