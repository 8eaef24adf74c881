import type { ChildProcess } from 'node:child_process';
import { exited, until } from './test-helpers.js';

/**
 * The end of a crash test: waits (up to `timeoutMs`, checking every `intervalMs`) until
 * `caughtUp()` holds for the last child, then stops the child gracefully (SIGTERM) and waits for
 * it to exit.
 *
 * @example
 * await lastRunCatchesUp(final, () => allHandled(outFile), 300_000, 100);
 * expect(final.exitCode).toBe(0);
 */
export async function lastRunCatchesUp(
  final: ChildProcess,
  caughtUp: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs: number,
): Promise<void> {
  await until(caughtUp, 'the last run to catch up', timeoutMs, intervalMs);
  final.kill('SIGTERM');
  await exited(final);
}
