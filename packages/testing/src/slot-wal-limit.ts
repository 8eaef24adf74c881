/**
 * Server settings (for `startCluster`'s `settings`) under which a logical slot that keeps more
 * than `limit` of WAL is invalidated at the next checkpoint. The base settings keep 1GB of WAL
 * for standbys (`wal_keep_size`), which would keep the slot's WAL past the limit; these keep
 * none and bound the WAL size low, so the limit alone decides.
 *
 * @example
 * const cluster = await startCluster({ replicas: 0, settings: slotWalLimit('64MB') });
 */
export function slotWalLimit(limit: string): Record<string, string | number> {
  return {
    max_slot_wal_keep_size: limit,
    wal_keep_size: 0,
    min_wal_size: '32MB',
    max_wal_size: '1GB',
  };
}
