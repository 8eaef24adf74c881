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
  const text = Object.values(key).map(keyValueText).join('\u001f');
  let hash = 0x811c9dc5;
  const byte = (b: number): void => {
    hash = Math.imul(hash ^ b, 0x01000193) >>> 0;
  };
  // FNV-1a over the UTF-8 encoding of `text`, without allocating it.
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      byte(code);
      continue;
    }
    if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (code >= 0xd800 && code < 0xe000) code = 0xfffd; // a lone surrogate, as Buffer.from encodes it
    if (code < 0x800) {
      byte(0xc0 | (code >> 6));
    } else if (code < 0x10000) {
      byte(0xe0 | (code >> 12));
      byte(0x80 | ((code >> 6) & 0x3f));
    } else {
      byte(0xf0 | (code >> 18));
      byte(0x80 | ((code >> 12) & 0x3f));
      byte(0x80 | ((code >> 6) & 0x3f));
    }
    byte(0x80 | (code & 0x3f));
  }
  return hash % partitions;
}
