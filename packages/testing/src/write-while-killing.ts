import { killAtRandomMoments, type KillLoopOptions } from './kill-loop.js';
import { mixedSize, type SizeTier } from './mixed-size.js';
import { sleep } from './test-helpers.js';

/** Options of {@link writeWhileKilling}. */
export interface WriteWhileKillingOptions {
  /** The crash loop (see {@link killAtRandomMoments}). */
  kills: KillLoopOptions;
  /** Rows to write in transactions of mixed size; then a trickle goes on until the last kill. */
  rows: number;
  /** Transaction sizes (see {@link mixedSize}); the trickle's come from the first tier. */
  sizes: readonly SizeTier[];
  /** Writes one transaction of `size` rows. */
  write: (size: number) => Promise<void>;
  /** Milliseconds to wait after a transaction (0: none); `trickle` once `rows` are written. */
  pause: (trickle: boolean) => number;
}

/**
 * The heart of a crash test: writes rows in transactions of mixed size while a consumer in a
 * child process is SIGKILLed at random moments. Once `rows` are written, small transactions
 * trickle on until the last kill, so every kill lands while rows are being written. Resolves
 * when both are done.
 *
 * @example
 * await writeWhileKilling({
 *   kills: { runs: 5, start: (run) => spawnSource(child, [String(run)]), minDelayMs: 50, spreadMs: 1500 },
 *   rows: 10_000,
 *   sizes: [[0.5, 1, 0], [0.9, 2, 20], [1, 1000, 0]],
 *   write: (size) => insertRows(size),
 *   pause: (trickle) => (trickle ? 50 : 0),
 * });
 */
export async function writeWhileKilling(options: WriteWhileKillingOptions): Promise<void> {
  let killing = true;
  const killed = killAtRandomMoments(options.kills).finally(() => (killing = false));
  const writing = (async () => {
    let written = 0;
    while (written < options.rows || killing) {
      const trickle = written >= options.rows;
      const size = mixedSize(options.sizes, trickle ? 0 : Math.random());
      await options.write(size);
      written += size;
      const ms = options.pause(trickle);
      if (ms > 0) await sleep(ms);
    }
  })();
  await Promise.all([writing, killed]);
}
