import type { ChildProcess } from 'node:child_process';
import { exited, sleep } from './test-helpers.js';

/** Options of {@link killAtRandomMoments}. */
export interface KillLoopOptions {
  /** How many children to start and kill, one after another. */
  runs: number;
  /** Starts the child of run `run` (1-based). */
  start: (run: number) => ChildProcess;
  /** Resolves when the child is where the kill may land (e.g. it printed `started`). Default: at once. */
  ready?: (child: ChildProcess, run: number) => Promise<void>;
  /** The kill lands `minDelayMs` plus a random part of `spreadMs` after `ready`. */
  minDelayMs: number;
  /** See {@link KillLoopOptions.minDelayMs}. */
  spreadMs: number;
  /** Called once each killed child has exited. */
  killed?: (run: number) => void;
}

/**
 * Starts a child process `runs` times and SIGKILLs each at a random moment, waiting for it to
 * exit before the next one starts: the crash loop of tests that prove nothing is lost when a
 * consumer dies at any point.
 *
 * @example
 * await killAtRandomMoments({
 *   runs: 5,
 *   start: (run) => spawnSource(child, [db.url, String(run)]),
 *   ready: (child) => outputSeen(child, 'started'),
 *   minDelayMs: 50,
 *   spreadMs: 1500,
 * });
 */
export async function killAtRandomMoments(options: KillLoopOptions): Promise<void> {
  for (let run = 1; run <= options.runs; run++) {
    const child = options.start(run);
    if (options.ready) await options.ready(child, run);
    await sleep(options.minDelayMs + Math.floor(Math.random() * options.spreadMs));
    child.kill('SIGKILL');
    await exited(child);
    options.killed?.(run);
  }
}
