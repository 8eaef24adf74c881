import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KoyoTestingError, startCluster } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(dir: string, pids: number[], budgetMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  while (Date.now() < deadline) {
    if (!existsSync(dir) && !pids.some(alive)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** Runs the fixture in a child process and returns what it started. */
async function holdCluster(): Promise<{
  child: ReturnType<typeof spawn>;
  dir: string;
  pids: number[];
}> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures', 'hold-cluster.mts')],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: process.env,
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes('\n')) resolve(buffer.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
  });
  const { dir, pids } = JSON.parse(line) as { dir: string; pids: number[] };
  expect(existsSync(dir)).toBe(true);
  expect(pids.every(alive)).toBe(true);
  return { child, dir, pids };
}

describe('cleanup', () => {
  it('stop() removes every process and directory', async () => {
    const cluster = await startCluster({ replicas: 1 });
    const pids = [cluster.primary.pid!, cluster.replicas[0]!.pid!];
    expect(pids.every(alive)).toBe(true);
    await cluster.stop();
    expect(existsSync(cluster.dir)).toBe(false);
    expect(pids.some(alive)).toBe(false);
    await cluster.stop();
  });

  it.each(['exit', 'SIGTERM', 'SIGINT', 'SIGKILL'] as const)(
    'leaves no orphan when the owner process ends by %s',
    async (how) => {
      const { child, dir, pids } = await holdCluster();
      if (how === 'exit') child.stdin!.write('exit\n');
      else child.kill(how);
      expect(await gone(dir, pids)).toBe(true);
    },
  );

  it('reports the server log when a server cannot start', async () => {
    const failure = startCluster({ replicas: 0, settings: { shared_buffers: 'lots' } });
    await expect(failure).rejects.toBeInstanceOf(KoyoTestingError);
    await expect(failure).rejects.toMatchObject({
      code: 'START_FAILED',
      message: expect.stringContaining('shared_buffers'),
    });
  });

  it('rejects bad options with a clear error', async () => {
    await expect(startCluster({ replicas: -1 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(startCluster({ postgres: { binDir: '/nonexistent' } })).rejects.toMatchObject({
      code: 'POSTGRES_NOT_FOUND',
      message: expect.stringContaining('/nonexistent'),
    });
  });
});
