import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findNatsServer } from '@koyo/testing';
import { expect, test } from 'vitest';

const tour = fileURLToPath(new URL('../src/tour.ts', import.meta.url));

function runTour(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@koyo/source', '--import', 'tsx', tour, ...args],
      {
        env: { ...process.env, DATABASE_URL: '', REPLICA_URLS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

// What CI checks of `pnpm demo`: the short tour on this project's PostgreSQL flavour ends by
// itself with exit 0 and a summary that shows each part of koyo's job happened.
test('the short tour exits 0 with a summary of changes, routing and the audit log', async () => {
  const { code, out } = await runTour([]);
  expect(code, out).toBe(0);
  const summary = out.split('\n').find((line) => line.startsWith('summary: ok'));
  expect(summary, out).toBeDefined();
  expect(summary).toMatch(/products: \d+/);
  expect(summary).toMatch(/orders: \d+/);
  expect(summary).toMatch(/queries: [1-9]\d* on replicas, [1-9]\d* on the primary/);
  expect(out).toMatch(/GET \/products\/\d+ with the client's read-your-writes token -> HTTP 200/);
  expect(out).toMatch(/the same GET from a client without the token -> HTTP 404/);
  expect(out).toMatch(/backfill done: 40,000 'snapshot' changes handled/);
  expect(out).toMatch(/GET \/search\?q=samovar -> 1 hit/);
  expect(out).toMatch(/GET \/search\?q=tetsubin -> 1 hit/);
  expect(out).toMatch(/GET \/search\?q=whisk -> 0 hit/);
  // Scale-out: with a nats-server binary (CI installs one), the relay and two worker processes,
  // one killed; without it, one line saying how to enable the section, and still exit 0.
  if (findNatsServer()) {
    expect(out).toMatch(/workers 1 and 2 \(pids \d+, \d+\) share durable koyo_demo_fleet/);
    expect(out).toMatch(/killed worker 1 \(SIGKILL\) mid-way/);
    expect(out).toMatch(/worker 2 took over: [1-9]\d* change\(s\) after the kill/);
    expect(out).toMatch(
      /order \d+: placed \(worker [12]\) -> paid \(worker [12]\) -> shipped \(worker [12]\)/,
    );
    expect(out).toContain('per-key order kept: yes; every change handled: 24 of 24');
  } else {
    expect(out).toMatch(
      /skipped: no nats-server binary on this machine; install it .* and run pnpm demo again/,
    );
  }
});

test('an unknown flag exits 2 with usage', async () => {
  const { code, out } = await runTour(['--fast']);
  expect(code).toBe(2);
  expect(out).toContain('usage: pnpm demo [--watch]');
});

// `pnpm demo --watch`, stopped with Ctrl-C as a terminal sends it (SIGINT to the whole process
// group): a summary, the clean-up, exit 0, and no "ELIFECYCLE Command failed" from pnpm.
test('pnpm demo --watch ends cleanly on Ctrl-C with a summary; the services list their endpoints', async () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const child = spawn('pnpm', ['demo', '--watch'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: '', REPLICA_URLS: '', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, like a terminal's foreground job
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  await new Promise<void>((resolve, reject) => {
    const check = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('watching: a new order')) resolve();
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('close', () => reject(new Error(`the demo ended before watching:\n${out}`)));
  });
  const base = /search-sync \(Drizzle\) on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  expect(base, out).toBeDefined();
  const index = await fetch(`${base}/`);
  expect(index.status).toBe(200);
  expect(await index.text()).toContain(`curl '${base}/search?q=teapot'`);
  expect(out).toContain(`curl '${base}/'`);
  process.kill(-child.pid!, 'SIGINT');
  const code = await exited;
  expect(code, out).toBe(0);
  expect(out).toMatch(/summary: stopped by Ctrl-C after [\d.]+ s; \d+ changes handled/);
  expect(out).not.toMatch(/ELIFECYCLE|Command failed/);
});
