import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outputSeen, spawnSource } from '@koyo/testing/vitest';

export { exited, sleep } from '@koyo/testing/vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** Runs a fixture under tsx from source, stdout piped (for "started"), stderr inherited. */
export function spawnFixture(name: string, args: string[]): ChildProcess {
  return spawnSource(join(here, 'fixtures', name), args);
}

/** Resolves once the child printed `marker` (or exited). */
export function printed(child: ChildProcess, marker = 'started'): Promise<void> {
  return outputSeen(child, marker);
}
