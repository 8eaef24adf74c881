// `koyo --help`, `koyo <command> --help` and usage errors need only the command specs: the built
// bin must not load the commands' implementations (pg, @koyo/slot, @koyo/dispatcher, ...) for them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, koyo, packageDir, type CliResult } from './helpers.js';

const recorder = pathToFileURL(join(packageDir, 'test', 'fixtures', 'record-modules.mjs')).href;
const HEAVY =
  /\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?(?:pg|pg-[\w-]+|jiti|@opentelemetry\/[\w-]+)\/|\/packages\/(?:slot|dispatcher|pgoutput|router|status|nats)\/|\/cli\/dist\/(?:context|load|format|sql|tables|pg-client|run|setup|tail|doctor|init|relay|slots)[./]/;

let dir: string;
let runs = 0;
beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'koyo-lazy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the built `koyo` and returns what it printed and every module URL it resolved. */
async function koyoModules(args: string[]): Promise<CliResult & { modules: string[] }> {
  const file = join(dir, `modules-${++runs}.txt`);
  const result = await koyo(args, {
    cwd: dir,
    env: { NODE_OPTIONS: `--import=${recorder}`, KOYO_RECORD_MODULES: file },
  });
  return { ...result, modules: readFileSync(file, 'utf8').split('\n').filter(Boolean) };
}

describe('help and usage errors load no command implementation', () => {
  const cases: [string, string[], number][] = [
    ['koyo --help', ['--help'], 0],
    ['koyo (no command)', [], 2],
    ['koyo help tail', ['help', 'tail'], 0],
    ['koyo run --help', ['run', '--help'], 0],
    ['koyo tail --help', ['tail', '--help'], 0],
    ['koyo slots drop --help', ['slots', 'drop', '--help'], 0],
    ['an unknown command', ['tial'], 2],
    ['an unknown flag', ['doctor', '--jsn'], 2],
    ['a bad choice', ['run', '--progress', 'fancy'], 2],
    ['a missing argument', ['slots', 'drop'], 2],
  ];
  for (const [what, args, code] of cases) {
    it(what, async () => {
      const result = await koyoModules(args);
      expect(result.code).toBe(code);
      expect(result.modules.some((url) => url.endsWith('/cli/dist/main.js'))).toBe(true);
      expect(result.modules.filter((url) => HEAVY.test(url))).toEqual([]);
    });
  }

  it('a command that runs loads its implementation and dependencies', async () => {
    const result = await koyoModules(['init', '--dir', join(dir, 'project')]);
    expect(result.code).toBe(0);
    const heavy = result.modules.filter((url) => HEAVY.test(url));
    expect(heavy.some((url) => url.endsWith('/cli/dist/init/init-command.js'))).toBe(true);
    expect(heavy.some((url) => url.includes('/packages/slot/'))).toBe(true);
  });
});
