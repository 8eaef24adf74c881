/// <reference lib="dom" />
// `koyo run --ui` and `--metrics` from the outside: a real headless Chromium loads the status page
// while rows are written, and a real Prometheus text parser reads /metrics.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { koyo, type LiveCli, packageDir, startKoyo, useKoyoProject, waitUntil } from './helpers.js';

interface PromSample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
}
interface PromFamily {
  name: string;
  type: string;
  metrics: PromSample[];
}
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => PromFamily[];

/** Debian's chromium (.ci/run installs it). Flags that keep it off the network. */
const CHROMIUM = process.env.KOYO_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const { db, project, slot } = useKoyoProject('observe');
let live: LiveCli;
let browser: BrowserContext;
let page: Page;
let statusUrl: string;
let metricsUrl: string;
const profile = mkdtempSync(join(tmpdir(), 'koyo-chromium-'));

beforeAll(async () => {
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  await db.query('CREATE TABLE audit (id int PRIMARY KEY)');
  const init = await koyo(['init', '--slot', slot, '--table', 'orders', '--table', 'audit'], {
    cwd: project.dir,
  });
  expect(init.code, init.stderr).toBe(0);
  // A failing item is retried once, then parked, so the dispatcher keeps going.
  const configFile = join(project.dir, 'koyo.config.ts');
  const config = readFileSync(configFile, 'utf8');
  writeFileSync(
    configFile,
    config.replace(
      /^ {2}dispatcher: \{$/m,
      '  dispatcher: {\n    retry: { attempts: 2, backoffMs: 10 },\n    deadLetter: () => undefined,',
    ),
  );
  writeFileSync(
    join(project.dir, 'koyo.handlers.ts'),
    `import { defineHandlers } from '@koyo/cli';

export default defineHandlers((koyo) => {
  koyo.onChange((change) => {
    if (change.table === 'orders' && change.new?.id === 13) throw new Error('boom: order 13 is cursed');
  });
});
`,
  );
  live = startKoyo(
    ['run', '--stats-interval', '0', '--progress', 'off', '--ui', '0', '--metrics', '127.0.0.1:0'],
    {
      cwd: project.dir,
      // trust authentication ignores the password: it is there to prove the page never shows it.
      env: { DATABASE_URL: db.url.replace('://postgres@', '://postgres:s3cret-pw@') },
    },
  );
  await live.waitFor(/message="dispatcher started"/, 'the dispatcher to start');
  statusUrl = /message="status page" url=(\S+)/.exec(live.stderr())![1]!;
  metricsUrl = /message="Prometheus metrics" url=(\S+)/.exec(live.stderr())![1]!;
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    colorScheme: 'light',
  });
  page = browser.pages()[0] ?? (await browser.newPage());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
  if (live) {
    live.child.kill('SIGTERM');
    await live.exited;
  }
});

const text = (id: string): Promise<string> => page.locator(`#${id}`).innerText();

describe('koyo run --ui: the live status page in a real browser', () => {
  it('loads from loopback with no request leaving the server, and shows the dispatcher', async () => {
    expect(statusUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const foreign: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(statusUrl)) foreign.push(request.url());
    });
    await page.goto(statusUrl);
    await page.waitForFunction(
      () => (window as unknown as { koyoStatus: { samples: number } }).koyoStatus.samples > 0,
    );
    await waitUntil(
      async () => (await text('state')) === 'running',
      'the state badge to say running',
      20_000,
    );
    expect(await text('title')).toBe(`slot ${slot} / publication ${slot}`);
    expect(foreign).toEqual([]);
  });

  it('counters, the per-table chart and the last error move as rows are written', async () => {
    await db.query("INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 50) g");
    await db.query('INSERT INTO audit SELECT generate_series(1, 20)');
    await waitUntil(
      async () => (await text('changes')) === '70',
      'changes handled to reach 70 on the page',
      30_000,
    ).catch(async (error: unknown) => {
      throw new Error(
        `${String(error)}; the page shows ${await text('changes')} (koyo printed: ${live.stderr().slice(-2000)})`,
      );
    });
    // p50/p99 cover the handler runs of the last 10 s: read them while those runs are recent (a
    // loaded machine can spend longer than that on the checks below).
    await waitUntil(
      async () => /^[\d.]+ \/ [\d.]+ ms$/.test(await text('latency')),
      'handler latency p50 / p99 on the page',
      10_000,
    );
    await waitUntil(
      async () => (await text('dead')) === '1',
      'one dead letter on the page',
      10_000,
    );
    expect(await text('errors')).toBe('2'); // two attempts of order 13
    expect(await text('last-error')).toContain('boom: order 13 is cursed');
    expect(await page.locator('#error-box').isVisible()).toBe(true);
    // The chart's own data: one series per table, with a positive rate in the window.
    await waitUntil(
      () =>
        page.evaluate(() => {
          const chart = (
            window as unknown as {
              koyoStatus: {
                charts: Record<string, { data: (number | null)[][]; series: { label?: string }[] }>;
              };
            }
          ).koyoStatus.charts.rate!;
          const labels = chart.series.slice(1).map((s) => s.label);
          const peak = Math.max(
            ...chart.data
              .slice(1)
              .flat()
              .map((v) => v ?? 0),
          );
          return labels.includes('public.orders') && labels.includes('public.audit') && peak > 0;
        }),
      'the changes/s chart to have both tables with a positive rate',
      10_000,
    );
    const points = await page.evaluate(
      () =>
        (window as unknown as { koyoStatus: { charts: Record<string, { data: unknown[][] }> } })
          .koyoStatus.charts.lag!.data[0]!.length,
    );
    expect(points).toBeGreaterThan(1);
    expect(await text('ack')).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('never shows the password of the connection string', async () => {
    const shown = await text('connection');
    expect(shown).toContain('postgres:***@');
    expect(shown).not.toContain('s3cret-pw');
    expect(await page.content()).not.toContain('s3cret-pw');
  });

  it('follows prefers-color-scheme and takes a screenshot', async () => {
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(light).toBe('rgb(255, 255, 255)');
    expect(dark).not.toBe(light);
    await page.emulateMedia({ colorScheme: 'light' });
    // KOYO_SCREENSHOT=1 refreshes the one in the README; otherwise it goes to a temporary file.
    const target =
      process.env.KOYO_SCREENSHOT === '1'
        ? join(packageDir, 'docs', 'status-page.png')
        : join(profile, 'status-page.png');
    mkdirSync(join(target, '..'), { recursive: true });
    await page.screenshot({ path: target, fullPage: true });
    expect(readFileSync(target).subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('koyo run --metrics: Prometheus text at /metrics', () => {
  it('parses with a Prometheus text parser and carries the dispatcher and slot instruments', async () => {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    const body = await response.text();
    const families = new Map(parsePrometheus(body).map((f) => [f.name, f]));
    const changes = families.get('koyo_dispatcher_changes_total');
    expect(changes?.type).toBe('COUNTER');
    const orders = changes!.metrics.find(
      (m) => m.labels?.table === 'public.orders' && m.labels.kind === 'insert',
    );
    expect(Number(orders?.value)).toBe(50);
    expect(orders?.labels?.slot).toBe(slot);
    expect(Number(families.get('koyo_dispatcher_dead_letters_total')?.metrics[0]?.value)).toBe(1);
    expect(Number(families.get('koyo_dispatcher_handler_errors_total')?.metrics[0]?.value)).toBe(2);
    const duration = families.get('koyo_dispatcher_handler_duration');
    expect(duration?.type).toBe('HISTOGRAM');
    expect(duration!.metrics.some((m) => Number(m.buckets?.['+Inf']) > 0)).toBe(true);
    // The exporter writes _count before the buckets, which the parser folds into one series per
    // family; the per-table counts are read from the text itself.
    const count = (table: string): number =>
      Number(
        new RegExp(
          `^koyo_dispatcher_handler_duration_count\\{[^}]*table="${table}"[^}]*\\} (\\d+)$`,
          'm',
        ).exec(body)?.[1],
      );
    expect(count('public.orders')).toBe(50);
    expect(count('public.audit')).toBe(20);
    expect(families.get('koyo_dispatcher_commit_to_handler')?.type).toBe('HISTOGRAM');
    expect(families.get('koyo_dispatcher_lag')?.type).toBe('GAUGE');
    expect(
      Number(families.get('koyo_dispatcher_acknowledged_lsn')?.metrics[0]?.value),
    ).toBeGreaterThan(0);
    expect(Number(families.get('koyo_slot_received_total')?.metrics[0]?.value)).toBeGreaterThan(0);
    expect(families.get('koyo_slot_paused')?.metrics[0]?.value).toBe('0');
    expect(families.get('koyo_slot_reconnects_total')?.metrics[0]?.value).toBe('0');
  });

  it('refuses a non-loopback address without --allow-remote', async () => {
    const result = await koyo(['run', '--ui', '0.0.0.0:0'], {
      cwd: project.dir,
      env: { DATABASE_URL: db.url },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/0\.0\.0\.0.*--allow-remote/);
  });
});
