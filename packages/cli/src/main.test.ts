import { describe, expect, it } from 'vitest';
import { main } from './main.js';

function io() {
  let stdout = '';
  let stderr = '';
  return {
    options: {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
      cwd: '/nonexistent',
    },
    out: () => stdout,
    err: () => stderr,
  };
}

describe('main', () => {
  it('prints the command list for --help (exit 0) and for no command (exit 2, on stderr)', async () => {
    const help = io();
    expect(await main(['--help'], help.options)).toBe(0);
    expect(help.out()).toMatch(/^Usage: koyo <command> \[options\]/);
    const none = io();
    expect(await main([], none.options)).toBe(2);
    expect(none.out()).toBe('');
    expect(none.err()).toContain('Commands:');
  });

  it('prints a version', async () => {
    const version = io();
    expect(await main(['--version'], version.options)).toBe(0);
    expect(version.out()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('help TOPIC and COMMAND --help show the command help', async () => {
    const topic = io();
    expect(await main(['help', 'slots', 'drop'], topic.options)).toBe(0);
    expect(topic.out()).toMatch(/^Usage: koyo slots drop NAME \[options\]/);
    const unknown = io();
    expect(await main(['help', 'nope'], unknown.options)).toBe(2);
  });

  it('a missing connection is one error line with exit 1, not a usage error', async () => {
    const run = io();
    expect(await main(['slots'], run.options)).toBe(1);
    expect(run.err()).toMatch(/^koyo slots: error: no database connection: pass --url/);
    expect(run.err().trim().split('\n')).toHaveLength(1);
  });

  it('koyo run without a config says to run koyo init', async () => {
    const run = io();
    expect(await main(['run'], run.options)).toBe(1);
    expect(run.err()).toBe(
      "koyo run: error: no koyo.config.ts in /nonexistent: run 'koyo init' to create one, or pass --config FILE\n",
    );
  });
});
