// `koyo init --relay nats`, `koyo relay nats`, the generated worker and `koyo doctor`'s NATS
// checks, as a user runs them: the built CLI as a subprocess, a real PostgreSQL and a real
// nats-server (startNats). Server truth: the slot's confirmed position, the stream's message
// count as JetStream reports it (through doctor), what the worker processes printed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNats, type NatsServer } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bin,
  koyo,
  lsn,
  packageDir,
  startKoyo,
  uniqueName,
  useKoyoProject,
  waitUntil,
} from './helpers.js';

const { db, project, slot } = useKoyoProject('relay');
let nats: NatsServer;
const env = (): NodeJS.ProcessEnv => ({ DATABASE_URL: db.url, NATS_URL: nats.url });
const config = (): string => readFileSync(join(project.dir, 'koyo.config.ts'), 'utf8');

beforeAll(async () => {
  nats = await startNats();
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL)');
});

afterAll(async () => {
  await nats?.close();
});

/** Starts the generated koyo.worker.ts as `npx tsx koyo.worker.ts` would. */
function startWorker(): { child: ChildProcess; lines: () => Record<string, unknown>[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'koyo.worker.ts'], {
    cwd: project.dir,
    env: { ...process.env, ...env() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const lines = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, lines };
}

describe('koyo init --relay nats, koyo relay nats, the worker, koyo doctor', () => {
  it('init --relay nats writes the relay section and a worker example that compile under strict', async () => {
    const init = await koyo(['init', '--relay', 'nats', '--slot', slot, '--table', 'orders'], {
      cwd: project.dir,
    });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('created koyo.worker.ts');
    expect(init.stdout).toContain('koyo relay nats');
    expect(config()).toMatch(
      /relay: \{\n {4}nats: \{\n[^]*servers: process\.env\.NATS_URL \?\? 'nats:\/\/127\.0\.0\.1:4222',[^]*partitions: 8,/,
    );
    const worker = readFileSync(join(project.dir, 'koyo.worker.ts'), 'utf8');
    expect(worker).toContain("import { createNatsWorker, type Change } from '@koyo/nats';");
    expect(worker).toContain(`durable: '${slot}_worker'`);
    expect(worker).toContain("'orders': {");

    // Compiled as a user's project would compile them: strict, nodenext, @koyo/cli's published types.
    writeFileSync(join(project.dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(project.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          skipLibCheck: true,
          paths: { '@koyo/cli': [join(packageDir, 'dist', 'index.d.ts')] },
        },
        files: ['koyo.config.ts', 'koyo.handlers.ts', 'koyo.worker.ts'],
      }),
    );
    const tsc = join(packageDir, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');
    const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], {
      cwd: project.dir,
      encoding: 'utf8',
    });
    expect(`${compiled.stdout}${compiled.stderr}`).toBe('');
    expect(compiled.status).toBe(0);
  });

  it('relay nats publishes every change; the generated worker handles them in order; SIGTERM stops with a summary', async () => {
    const relay = startKoyo(['relay', 'nats', '--stats-interval', '1'], {
      cwd: project.dir,
      env: env(),
    });
    await relay.waitFor(
      /message="relaying into JetStream" stream=KOYO subjects=koyo\.>/,
      'the relay to start',
    );
    expect(relay.stderr()).toMatch(
      /message="koyo relay nats" .*nats=nats:\/\/127\.0\.0\.1:\d+ stream=KOYO subjectPrefix=koyo partitions=8/,
    );
    await db.query("INSERT INTO orders VALUES (1, 'placed'), (2, 'placed')");
    await db.query("UPDATE orders SET status = 'paid' WHERE id = 1");
    const [last] = await db.query<{ lsn: string }>(
      "UPDATE orders SET status = 'shipped' WHERE id = 1 RETURNING pg_current_wal_insert_lsn()::text AS lsn",
    );
    await relay.waitFor(/message=stats published=4 /, 'a stats line with the 4 changes published');

    const worker = startWorker();
    try {
      await waitUntil(
        () => worker.lines().filter((line) => 'handled' in line).length >= 4,
        'the worker to handle 4 changes',
        30_000,
      );
      const handled = worker.lines().filter((line) => 'handled' in line);
      expect(handled.map((line) => [line.id, line.handled])).toEqual(
        expect.arrayContaining([
          [1, 'insert'],
          [2, 'insert'],
          [1, 'update'],
          [1, 'update'],
        ]),
      );
      // Per key, in commit order.
      const one = handled
        .filter((line) => line.id === 1)
        .map((line) => lsn(String(line.commitLsn)));
      expect(one).toEqual([...one].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(one).toHaveLength(3);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await new Promise((resolve) => worker.child.on('close', resolve))).toBe(0);

    const result = await relay.stop('SIGTERM');
    expect(result.stderr).toContain(
      'message="stopping: letting running publishes finish" signal=SIGTERM',
    );
    expect(result.stderr).toMatch(
      /message=stopped published=4 duplicates=0 alreadyStored=0 publishErrors=0 /,
    );
    const [row] = await db.query<{ confirmed: string; active: boolean }>(
      'SELECT confirmed_flush_lsn::text AS confirmed, active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    expect(row!.active).toBe(false);
    expect(lsn(row!.confirmed)).toBeGreaterThanOrEqual(lsn(last!.lsn));
  });

  it('doctor checks NATS, JetStream and the stream from relay.nats; a mismatch fails with the fix, and the relay refuses it', async () => {
    const ok = await koyo(['doctor'], { cwd: project.dir, env: env() });
    expect(ok.stdout).toMatch(
      new RegExp(`NATS nats://127\\.0\\.0\\.1:${nats.port}, stream KOYO\\)`),
    );
    expect(ok.stdout).toMatch(/✓ nats +connected to NATS/);
    expect(ok.stdout).toMatch(/✓ jetstream +JetStream is enabled/);
    expect(ok.stdout).toMatch(
      /✓ nats_stream +stream KOYO captures 'koyo\.>' on file storage, de-duplicating over 120000 ms; it holds 4 message\(s\)/,
    );

    // The relay wants a longer duplicate window than the stream it created has.
    writeFileSync(
      join(project.dir, 'koyo.config.ts'),
      config().replace('// duplicateWindowMs: 120000,', 'duplicateWindowMs: 600000,'),
    );
    const bad = await koyo(['doctor', '--json'], { cwd: project.dir, env: env() });
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as {
      ok: boolean;
      nats: unknown;
      checks: { id: string; ok: boolean; fix: string | null }[];
    };
    expect(report.nats).toEqual({ servers: [nats.url], stream: 'KOYO' });
    expect(report.checks.find((check) => check.id === 'nats_stream')).toMatchObject({
      ok: false,
      fix: expect.stringContaining('nats stream edit KOYO --dupe-window 600s'),
    });

    const refused = await koyo(['relay', 'nats'], { cwd: project.dir, env: env() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /koyo relay nats: error: The stream KOYO de-duplicates over 120000 ms, less than duplicateWindowMs \(600000 ms\): raise .* \[DUPLICATE_WINDOW_TOO_SHORT\]/,
    );
    writeFileSync(
      join(project.dir, 'koyo.config.ts'),
      config().replace('duplicateWindowMs: 600000,', '// duplicateWindowMs: 120000,'),
    );

    // --nats-servers pointing at nothing: a failed check with the fix, exit 1.
    const down = await koyo(['doctor', '--nats-servers', 'nats://127.0.0.1:9'], {
      cwd: project.dir,
      env: env(),
    });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/✗ nats +cannot connect to NATS at nats:\/\/127\.0\.0\.1:9/);
    expect(down.stdout).toMatch(/fix: start nats-server with JetStream \(nats-server -js\)/);
  });

  it('bad flags are usage errors (exit 2); a bad relay section, an unreachable NATS are typed errors (exit 1) and create no slot', async () => {
    const partitions = await koyo(['relay', 'nats', '--partitions', '0'], {
      cwd: project.dir,
      env: env(),
    });
    expect(partitions.code).toBe(2);
    expect(partitions.stderr).toContain(
      '--partitions must be an integer between 1 and 10000 (got "0")',
    );
    const stream = await koyo(['relay', 'nats', '--stream', 'a.b'], {
      cwd: project.dir,
      env: env(),
    });
    expect(stream.code).toBe(2);
    expect(stream.stderr).toContain('--stream "a.b" is not a safe JetStream stream name');
    const servers = await koyo(['relay', 'nats', '--servers', 'http://example.com/x'], {
      cwd: project.dir,
      env: env(),
    });
    expect(servers.code).toBe(2);
    expect(servers.stderr).toContain('--servers must be a NATS URL');
    const sub = await koyo(['relay', 'kafka'], { cwd: project.dir });
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain('koyo relay needs a sub-command: koyo relay nats (got "kafka")');

    // A config with a mistake in relay.nats: each edit of the good one, and the error it gets.
    const good = config();
    const mistakes: [string, string, string | RegExp][] = [
      [
        'partitions: 8,',
        'partition: 8,',
        'unknown option "relay.nats.partition" (did you mean "partitions"?)',
      ],
      [
        "stream: 'KOYO',",
        "stream: 'my stream',",
        /koyo relay nats: error: koyo\.config\.ts: relay\.nats\.stream "my stream" is not a safe JetStream stream name/,
      ],
    ];
    for (const [line, mistake, error] of mistakes) {
      writeFileSync(join(project.dir, 'koyo.config.ts'), good.replace(line, mistake));
      const refused = await koyo(['relay', 'nats'], { cwd: project.dir, env: env() });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(error);
    }
    writeFileSync(join(project.dir, 'koyo.config.ts'), good);

    const otherSlot = uniqueName('cli_relay_down');
    const down = await koyo(
      ['relay', 'nats', '--slot', otherSlot, '--servers', 'nats://127.0.0.1:9'],
      { cwd: project.dir, env: env() },
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /koyo relay nats: error: Could not reach JetStream .*nats-server -js.* \[JETSTREAM_UNAVAILABLE\]/,
    );
    expect(
      await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [otherSlot]),
    ).toEqual([]);
  });
});

// A project where @koyo/cli is installed without the optional @koyo/nats: the CLI (its built
// files and package.json) with its dependencies linked beside it, outside the workspace.
describe('without @koyo/nats installed', () => {
  const root = mkdtempSync(join(tmpdir(), 'koyo-no-nats-'));
  const cli = join(root, 'node_modules', '@koyo', 'cli');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeAll(() => {
    mkdirSync(cli, { recursive: true });
    cpSync(join(packageDir, 'dist'), join(cli, 'dist'), { recursive: true });
    cpSync(join(packageDir, 'package.json'), join(cli, 'package.json'));
    // Every dependency npm would install with @koyo/cli (peer dependencies, @koyo/nats among them, are not).
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const dep of Object.keys(manifest.dependencies)) {
      mkdirSync(join(root, 'node_modules', dep, '..'), { recursive: true });
      symlinkSync(join(packageDir, 'node_modules', dep), join(root, 'node_modules', dep), 'dir');
    }
    writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
    cpSync(join(project.dir, 'koyo.config.ts'), join(root, 'koyo.config.ts'));
  });

  // Without NODE_PATH: pnpm sets it for scripts (to the workspace's hoisted .pnpm/node_modules,
  // which holds @koyo/nats), and the CLI's fallback lookup through the project would find it there.
  const run = (args: string[]) => {
    const { NODE_PATH: _nodePath, ...inherited } = process.env;
    return spawnSync(process.execPath, [join(cli, 'dist', 'bin.js'), ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...inherited, ...env() },
      timeout: 60_000,
    });
  };

  it('koyo works; relay nats says what to install; doctor fails the nats check with the fix', () => {
    expect(bin).not.toBe(join(cli, 'dist', 'bin.js'));
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/relay nats +Publish every change into NATS JetStream/);
    const relay = run(['relay', 'nats']);
    expect(relay.status).toBe(1);
    expect(relay.stderr.trim()).toBe(
      'koyo relay nats: error: koyo relay nats needs @koyo/nats, which is not installed: run npm install @koyo/nats in the project (next to @koyo/cli), then try again',
    );
    const doctor = run(['doctor']);
    expect(doctor.status).toBe(1);
    expect(doctor.stdout).toMatch(
      /✗ nats +@koyo\/nats is not installed, and koyo relay nats needs it\n +fix: npm install @koyo\/nats/,
    );
  });
});
