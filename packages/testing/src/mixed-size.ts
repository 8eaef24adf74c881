/** One tier of {@link mixedSize}: below cumulative probability `upTo`, `min` plus a random part of `spread`. */
export type SizeTier = readonly [upTo: number, min: number, spread: number];

/**
 * A transaction size for a crash test's writer, drawn from tiers of mixed sizes: `r` (default
 * `Math.random()`) picks the first tier whose `upTo` is above it; the size is that tier's `min`
 * plus a random whole part of its `spread`. Pass `r = 0` for the first tier (e.g. a trickle of
 * small transactions); the last tier also takes any `r` at or above its `upTo`.
 *
 * @example
 * const size = mixedSize([[0.5, 1, 0], [0.8, 2, 20], [1, 1500, 0]], trickle ? 0 : Math.random());
 */
export function mixedSize(tiers: readonly SizeTier[], r = Math.random()): number {
  const tier = tiers.find(([upTo]) => r < upTo) ?? tiers[tiers.length - 1]!;
  return tier[1] + Math.floor(Math.random() * tier[2]);
}
