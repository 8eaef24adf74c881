import { describe, expect, it } from 'vitest';
import { formatHelp, numberValue, parseCommandArgs, suggest, type CommandSpec } from './args.js';
import { KoyoCliError } from './errors.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'demo',
  description: 'A demo command.',
  positionals: [{ name: 'NAME', required: true, description: 'a name' }],
  options: {
    url: { type: 'string', value: 'URL', description: 'where' },
    table: { type: 'string', multiple: true, value: 'TABLE', description: 'tables' },
    mode: { type: 'string', choices: ['a', 'b'], description: 'mode' },
    json: { type: 'boolean', description: 'json' },
    help: { type: 'boolean', short: 'h', description: 'help' },
  },
  examples: ['koyo demo x'],
};

function usageError(argv: string[]): KoyoCliError {
  try {
    parseCommandArgs(spec, argv);
  } catch (error) {
    if (error instanceof KoyoCliError) return error;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('parseCommandArgs', () => {
  it('parses strings, booleans, repeated and comma-separated lists, and positionals', () => {
    const args = parseCommandArgs(spec, [
      'x',
      '--url',
      'postgres://a',
      '--table',
      'a,b',
      '--table=c',
      '--json',
      '--mode',
      'b',
    ]);
    expect(args.positionals).toEqual(['x']);
    expect(args.values).toEqual({
      url: 'postgres://a',
      table: ['a', 'b', 'c'],
      json: true,
      mode: 'b',
    });
  });

  it('rejects unknown flags with a suggestion, and every other mistake, as USAGE errors', () => {
    expect(usageError(['x', '--jsn']).message).toBe('unknown option --jsn (did you mean --json?)');
    expect(usageError(['x', '--json=yes']).message).toMatch(/--json takes no value/);
    expect(usageError(['x', '--url']).message).toMatch(/--url needs a value/);
    expect(usageError(['x', '--url', '--json']).message).toMatch(/--url needs a value/);
    expect(usageError(['x', '--mode', 'c']).message).toBe('--mode must be one of a, b (got "c")');
    expect(usageError(['x', '--url', 'a', '--url', 'b']).message).toMatch(/given twice/);
    expect(usageError([]).message).toBe('missing NAME: a name');
    expect(usageError(['x', 'y']).message).toBe('unexpected argument "y"');
    expect(usageError([]).code).toBe('USAGE');
    expect(usageError([]).exitCode).toBe(2);
    expect(usageError([]).command).toBe('demo');
  });

  it('lets --help through without the required positionals', () => {
    expect(parseCommandArgs(spec, ['-h']).values.help).toBe(true);
  });
});

describe('numberValue', () => {
  const rules = { min: 1, max: 10, integer: true, fallback: 5 };
  it('checks range and form', () => {
    expect(numberValue(spec, { values: {}, positionals: [] }, 'url', rules)).toBe(5);
    expect(numberValue(spec, { values: { url: '7' }, positionals: [] }, 'url', rules)).toBe(7);
    for (const bad of ['0', '11', '2.5', 'abc', '1e3', '']) {
      expect(() =>
        numberValue(spec, { values: { url: bad }, positionals: [] }, 'url', rules),
      ).toThrow(/--url must be an integer between 1 and 10/);
    }
  });
});

describe('suggest', () => {
  it('finds close candidates, transpositions included, and nothing for unrelated input', () => {
    expect(suggest('tial', ['init', 'tail', 'run'])).toBe('tail');
    expect(suggest('doctr', ['doctor', 'setup'])).toBe('doctor');
    expect(suggest('zzzzzz', ['doctor', 'setup'])).toBeUndefined();
  });
});

describe('formatHelp', () => {
  it('shows the synopsis, options with their values and choices, and examples', () => {
    const help = formatHelp(spec);
    expect(help.split('\n')[0]).toBe('Usage: koyo demo NAME [options]');
    expect(help).toMatch(/--url URL\s+where/);
    expect(help).toMatch(/--mode VALUE\s+mode \(a, b\)/);
    expect(help).toMatch(/-h, --help\s+help/);
    expect(help).toContain('Examples:\n  koyo demo x');
  });
});
