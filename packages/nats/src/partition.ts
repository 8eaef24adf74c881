/**
 * The text of one key value for hashing: strings as they are, numbers, bigints and booleans in
 * their decimal/`true` form, dates as ISO 8601, `null` as the empty string, anything else as JSON.
 */
function keyValueText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/**
 * The partition of a change's key: FNV-1a (32-bit) over the UTF-8 bytes of the key's values, in
 * key-column order, joined by U+001F, modulo `partitions`. Every change of one key lands in the
 * same partition. A change without key (truncate, `REPLICA IDENTITY NOTHING`) goes to partition 0.
 *
 * In other languages: `fnv1a32(utf8(values.join("\u001f"))) % partitions`, unsigned, with
 * offset basis 2166136261 and prime 16777619.
 *
 * @example
 * partitionOf({ id: 42 }, 8); // the same number in every process, on every machine
 */
export function partitionOf(key: Record<string, unknown> | null, partitions: number): number {
  if (partitions <= 1 || key === null) return 0;
  const bytes = Buffer.from(Object.values(key).map(keyValueText).join('\u001f'), 'utf8');
  let hash = 0x811c9dc5;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
