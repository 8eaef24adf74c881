import { execFile, type ExecFileOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The user that owns server processes and data directories. */
export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/**
 * PostgreSQL refuses to run as root, so when we are root the servers run as an
 * unprivileged user (`nobody` unless KOYO_TEST_PG_USER names another).
 */
export function resolveRunAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const wanted = process.env.KOYO_TEST_PG_USER ?? 'nobody';
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    // fall through to the conventional nobody ids
  }
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === wanted && uid && gid) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return { name: wanted, uid: 65534, gid: 65534 };
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a program (as `runAs` when given) and resolves with its output, rejecting on non-zero exit. */
export function run(
  file: string,
  args: string[],
  options: {
    runAs?: RunAs | undefined;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    cwd?: string;
  } = {},
): Promise<RunResult> {
  const execOptions: ExecFileOptions = {
    env: options.env ?? childEnv(),
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 16 * 1024 * 1024,
    cwd: options.cwd ?? '/',
  };
  if (options.runAs) {
    execOptions.uid = options.runAs.uid;
    execOptions.gid = options.runAs.gid;
  }
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...execOptions, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        const detail = `${String(stderr).trim()}\n${String(stdout).trim()}`.trim();
        reject(Object.assign(error, { stdout: String(stdout), stderr: String(stderr), detail }));
      } else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The environment for server programs: ours, minus variables that would redirect libpq or PG. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('PG')) continue;
    env[key] = value;
  }
  env.LC_ALL = 'C';
  env.LANG = 'C';
  return env;
}

/** Whether a process id is alive (a zombie awaiting its parent counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Waits until none of the processes is alive, up to a budget. */
export async function waitForExit(pids: number[], budgetMs = 10_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
