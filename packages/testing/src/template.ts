import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PostgresBinaries } from './binaries.js';
import { KoyoTestingError } from './errors.js';
import { run, type RunAs } from './process.js';

/** The shared root under the OS temp dir; world-traversable so the server user reaches its dirs. */
export async function koyoTempRoot(): Promise<string> {
  const root = join(tmpdir(), 'koyo-testing');
  await mkdir(root, { recursive: true });
  await chmod(root, 0o755).catch(() => undefined);
  return root;
}

/**
 * initdb is the slowest step of a cluster start, so it runs once per binary version; each node
 * starts from a copy of that template.
 */
export async function ensureTemplate(
  binaries: PostgresBinaries,
  runAs: RunAs | undefined,
): Promise<string> {
  const root = await koyoTempRoot();
  const key = createHash('sha1')
    .update(`${binaries.binDir}\0${binaries.version}\0${runAs?.uid ?? process.getuid?.() ?? ''}`)
    .digest('hex')
    .slice(0, 12);
  const templates = join(root, 'templates');
  await mkdir(templates, { recursive: true, mode: 0o755 });
  const target = join(templates, `pg${binaries.major}-${key}`);
  if (existsSync(join(target, 'PG_VERSION'))) return target;

  const staging = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await mkdir(staging, { mode: 0o700 });
  if (runAs) await chown(staging, runAs.uid, runAs.gid);
  try {
    await run(
      join(binaries.binDir, 'initdb'),
      [
        '-D',
        staging,
        '-U',
        'postgres',
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      { runAs, timeoutMs: 120_000 },
    );
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    const detail = (error as { detail?: string }).detail ?? String(error);
    throw new KoyoTestingError('INITDB_FAILED', `initdb (${binaries.binDir}) failed:\n${detail}`, {
      cause: error,
    });
  }
  try {
    await rename(staging, target);
  } catch {
    // another process won the race: its template is as good as ours
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}
