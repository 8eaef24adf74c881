import { describe, expect, it } from 'vitest';
import { koyo, useDb } from './helpers.js';

const db = useDb('cli_usage');

describe('bad input exits 2 with the usage', () => {
  const cases: [string, string[], RegExp, string][] = [
    [
      'an unknown command',
      ['tial'],
      /unknown command "tial" \(did you mean "tail"\?\)/,
      'Usage: koyo <command>',
    ],
    [
      'an unknown flag',
      ['doctor', '--jsn'],
      /unknown option --jsn \(did you mean --json\?\)/,
      'Usage: koyo doctor [options]',
    ],
    ['a missing value', ['slots', '--url'], /--url needs a value/, 'Usage: koyo slots [options]'],
    [
      'a bad choice',
      ['run', '--progress', 'fancy'],
      /--progress must be one of auto, bar, lines, off/,
      'Usage: koyo run [options]',
    ],
    [
      'a bad number',
      ['tail', '--limit', '-3'],
      /--limit needs a value|--limit must be an integer/,
      'Usage: koyo tail [options]',
    ],
    [
      'a missing argument',
      ['slots', 'drop'],
      /missing NAME/,
      'Usage: koyo slots drop NAME [options]',
    ],
    [
      'an extra argument',
      ['doctor', 'now'],
      /unexpected argument "now"/,
      'Usage: koyo doctor [options]',
    ],
    [
      'a bad slot name',
      ['doctor', '--url', 'postgres://x@127.0.0.1:1/x', '--slot', 'Bad-Name'],
      /--slot must be 1-63 characters/,
      'Usage: koyo doctor [options]',
    ],
    [
      'a URL that is not postgres://',
      ['slots', '--url', 'mysql://x@y/z'],
      /--url must be a postgres:\/\//,
      'Usage: koyo slots [options]',
    ],
  ];
  for (const [what, args, message, usage] of cases) {
    it(`${what}: ${args.join(' ')}`, async () => {
      const result = await koyo(args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain(usage);
    });
  }

  it('--help works for every command and exits 0', async () => {
    for (const command of [
      ['init'],
      ['doctor'],
      ['setup'],
      ['run'],
      ['slots'],
      ['slots', 'drop'],
      ['tail'],
    ]) {
      const result = await koyo([...command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: koyo ${command.join(' ')}`);
      expect(result.stdout).toContain('Options:');
    }
    const top = await koyo(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:\n\s+init/);
  });
});

describe('errors are one line, never a stack trace', () => {
  it('a database error prints one line with the SQLSTATE, exit 1', async () => {
    const missing = db.url.replace(/\/[^/]+$/, '/no_such_database_here');
    const result = await koyo(['slots', '--url', missing]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^koyo slots: error: .*database "no_such_database_here" does not exist.*\[SQLSTATE 3D000\]$/,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('a table that does not exist is one line naming the schemas searched, before anything is created', async () => {
    const result = await koyo(['tail', '--url', db.url, '--table', 'no_such_table']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'koyo tail: error: Table "no_such_table" does not exist in any schema of the connection\'s search_path (searched: "public"). Qualify it as "schema.no_such_table", or add its schema to the role\'s search_path.',
    );
    const slots = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = current_database()',
    );
    expect(slots[0]!.n).toBe(0);
  });

  it('a refused connection says what to check', async () => {
    const result = await koyo(['slots', '--url', 'postgres://postgres@127.0.0.1:1/postgres']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^koyo slots: error: cannot connect to PostgreSQL at 127\.0\.0\.1:1: ECONNREFUSED/,
      ),
    ]);
  });

  it('no connection anywhere says where to put one', async () => {
    const result = await koyo(['slots']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^koyo slots: error: no database connection: pass --url .*, set DATABASE_URL/,
    );
  });
});
