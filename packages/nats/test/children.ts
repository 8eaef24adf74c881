import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Runs a fixture under tsx from source, stdout piped (for "started"), stderr inherited. */
export function spawnFixture(name: string, args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    ['--conditions=@koyo/source', '--import', 'tsx', join(here, 'fixtures', name), ...args],
    {
      // No tsx transform cache: a child SIGKILLed while tsx writes it could leave a truncated entry.
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    },
  );
}

/** Resolves once the child printed `marker` (or exited). */
export function printed(child: ChildProcess, marker = 'started'): Promise<void> {
  return new Promise((resolve) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes(marker)) resolve();
    });
    child.once('exit', () => resolve());
  });
}

/** Resolves once the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
