// @koyo/dispatcher in a crash loop: how many changes a SIGKILLed dispatcher redelivers per kill,
// with prompt acknowledgements (ackDelayMs 100, the default) against the old behaviour (the
// acknowledged position sent only with the status update every statusIntervalMs = 10 s).
// Markdown on stdout, progress on stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from '@koyo/testing';
import pg from 'pg';

const KILLS = Number(process.env.KOYO_BENCH_KILLS ?? 8);
/** Transactions per second written during the whole run (one row each). */
const RATE = 200;
const PUBLICATION = 'crash_pub';

const here = dirname(fileURLToPath(import.meta.url));
const log = (message: string): void =>
  void process.stderr.write(`dispatcher-crash.bench: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Variant {
  name: string;
  what: string;
  ackDelayMs: number;
  slot: string;
  file: string;
}

function startChild(url: string, variant: Variant): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@koyo/source',
      '--import',
      'tsx',
      join(here, 'crash-child.ts'),
      url,
      variant.slot,
      PUBLICATION,
      variant.file,
      String(variant.ackDelayMs),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSX_DISABLE_CACHE: '1' } },
  );
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('started')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`crash child exited with ${code}`)));
  });
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

function handled(file: string): string[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '');
  } catch {
    return [];
  }
}

/** Each variant lives for the same random 1-4 s between kills: restarted more often than every 10 s. */
async function crashLoop(url: string, variant: Variant, lifetimes: number[]): Promise<void> {
  for (const lifetime of lifetimes) {
    const child = await startChild(url, variant);
    await sleep(lifetime);
    child.kill('SIGKILL');
    await exited(child);
  }
}

log('starting PostgreSQL (system)');
const cluster = await startCluster({ postgres: 'system', replicas: 0 });
const dir = mkdtempSync(join(tmpdir(), 'koyo-crash-bench-'));
try {
  const url = cluster.primary.url;
  const admin = new pg.Client(url);
  await admin.connect();
  await admin.query('CREATE TABLE crash_items (id int PRIMARY KEY)');
  await admin.query(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE crash_items`);
  const variants: Variant[] = [
    {
      name: 'ackDelayMs: 100 (default)',
      what: 'acknowledged position sent within 100 ms',
      ackDelayMs: 100,
      slot: 'crash_prompt',
      file: join(dir, 'prompt.log'),
    },
    {
      name: 'ackDelayMs: Infinity (old behaviour)',
      what: 'sent only with the status update every 10 s',
      ackDelayMs: Number.POSITIVE_INFINITY,
      slot: 'crash_interval',
      file: join(dir, 'interval.log'),
    },
  ];
  for (const variant of variants)
    await admin.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [variant.slot]);
  const lifetimes = Array.from({ length: KILLS }, () => 1_000 + Math.floor(Math.random() * 3_000));

  let written = 0;
  let writing = true;
  const writer = (async () => {
    const started = Date.now();
    while (writing) {
      await admin.query('INSERT INTO crash_items VALUES ($1)', [written + 1]);
      written++;
      const ahead = (written * 1000) / RATE - (Date.now() - started);
      if (ahead > 0) await sleep(ahead);
    }
  })();
  log(`${KILLS} kills per variant, both at once, lifetimes ${lifetimes.join(', ')} ms`);
  const started = Date.now();
  await Promise.all(variants.map((variant) => crashLoop(url, variant, lifetimes)));
  writing = false;
  await writer;
  const seconds = (Date.now() - started) / 1000;

  // A last child per variant catches up: the changes the last kill left unacknowledged come again too.
  const finals = await Promise.all(variants.map((variant) => startChild(url, variant)));
  const deadline = Date.now() + 300_000;
  while (variants.some((variant) => new Set(handled(variant.file)).size < written)) {
    if (Date.now() > deadline) throw new Error('the last children did not catch up');
    await sleep(200);
  }
  for (const child of finals) {
    child.kill('SIGKILL');
    await exited(child);
  }
  await admin.end();

  const rows = variants.map((variant) => {
    const lines = handled(variant.file);
    const distinct = new Set(lines).size;
    const redelivered = lines.length - distinct;
    return { variant, lines: lines.length, distinct, redelivered, perKill: redelivered / KILLS };
  });
  for (const row of rows)
    log(
      `${row.variant.name}: ${row.lines} handled, ${row.distinct} distinct, ${row.perKill.toFixed(1)} redelivered per kill`,
    );
  const prompt = rows[0]!;
  const old = rows[1]!;
  const ratio =
    prompt.perKill === 0
      ? 'none redelivered with ackDelayMs 100'
      : `${(old.perKill / prompt.perKill).toFixed(1)}x fewer with ackDelayMs 100`;
  const section = [
    '## Dispatcher crash loop: redeliveries per kill (@koyo/dispatcher)',
    '',
    `A writer commits single-row INSERT transactions at ${RATE}/s (${written.toLocaleString('en-US')} in ${seconds.toFixed(0)} s). Two dispatchers run at the same time in child processes, each on its own slot of the same publication, default options but \`ackDelayMs\`; each is SIGKILLed ${KILLS} times, after the same random 1-4 s lifetimes (restarted more often than the 10 s status interval), then a last one catches up. Every handled id is appended to a file; redeliveries = handled - distinct. PostgreSQL ${cluster.binaries.version} on loopback.`,
    '',
    '| dispatcher | acknowledgements | rows written | changes handled | redelivered | redelivered per kill | handled / written |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.variant.name} | ${row.variant.what} | ${written.toLocaleString('en-US')} | ${row.lines.toLocaleString('en-US')} | ${row.redelivered.toLocaleString('en-US')} | ${row.perKill.toFixed(1)} | ${(row.lines / written).toFixed(2)}x |`,
    ),
    '',
    `Ratio: ${ratio} (${old.perKill.toFixed(1)} vs ${prompt.perKill.toFixed(1)} per kill).`,
  ];
  process.stdout.write(`${section.join('\n')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await cluster.stop();
}
process.exit(0);
