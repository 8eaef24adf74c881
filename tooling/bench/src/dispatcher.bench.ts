// @koyo/dispatcher: catch-up throughput with a no-op handler against pg_recvlogical, commit-to-
// handler latency at a steady 2,000 transactions/s written by a second process, and RSS while one
// 1M-row transaction is dispatched. Markdown on stdout, progress on stderr.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createDispatcher } from '@koyo/dispatcher';
import { openReplicationStream } from '@koyo/slot';
import { startCluster, type Cluster } from '@koyo/testing';
import pg from 'pg';

const ROWS = 200_000;
const TRANSACTIONS = 200;
const ROUNDS = Number(process.env.KOYO_BENCH_ROUNDS ?? 3);
const RATE = 2_000;
const LATENCY_SECONDS = Number(process.env.KOYO_BENCH_LATENCY_SECONDS ?? 10);
const BIG_ROWS = 1_000_000;
const PUBLICATION = 'bench_pub';

const log = (message: string): void => void process.stderr.write(`dispatcher.bench: ${message}\n`);

async function query(url: string, sql: string, params: unknown[] = []): Promise<any[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/') as [string, string];
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The dispatcher with a no-op handler: from start() until the last commit is acknowledged and it stopped. */
async function runDispatcher(url: string, slot: string, target: bigint): Promise<number> {
  const started = performance.now();
  const dispatcher = createDispatcher({
    connection: url,
    slot,
    publication: PUBLICATION,
    createSlot: false,
    createPublication: false,
    logger: false,
  });
  let rows = 0;
  dispatcher.onChange(() => {
    rows++;
  });
  await dispatcher.start();
  while (parseLsn(dispatcher.stats().acknowledgedLsn) < target) {
    if (dispatcher.stats().state === 'failed')
      throw new Error(`dispatcher failed: ${dispatcher.stats().error}`);
    await sleep(2);
  }
  await dispatcher.stop();
  const elapsed = performance.now() - started;
  if (rows !== ROWS) throw new Error(`the dispatcher handled ${rows} rows, expected ${ROWS}`);
  return elapsed;
}

/** The raw @koyo/slot stream the dispatcher is built on (decodes every row, acknowledges each commit). */
async function runSlot(url: string, slot: string, target: bigint): Promise<number> {
  const started = performance.now();
  const stream = openReplicationStream({
    connection: url,
    slot,
    publications: [PUBLICATION],
    messages: true,
  });
  let rows = 0;
  for await (const event of stream) {
    if (event.kind !== 'message') continue;
    const m = event.message;
    if (m.tag === 'insert') rows++;
    else if (m.tag === 'commit') {
      stream.acknowledge(m.endLsn);
      if (m.endLsn >= target) break;
    }
  }
  await stream.stop();
  const elapsed = performance.now() - started;
  if (rows !== ROWS) throw new Error(`the stream received ${rows} rows, expected ${ROWS}`);
  return elapsed;
}

/** pg_recvlogical with the same options, until it reaches the last commit's end (--endpos). */
async function runRecvlogical(
  binary: string,
  url: string,
  slot: string,
  protocolVersion: number,
  target: bigint,
): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      binary,
      [
        '-d',
        url,
        `--slot=${slot}`,
        '--start',
        '--no-loop',
        '-f',
        '/dev/null',
        '-o',
        `proto_version=${protocolVersion}`,
        '-o',
        `publication_names=${PUBLICATION}`,
        '-o',
        'messages=true',
        `--endpos=${lsnText(target)}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`pg_recvlogical exited with ${code}: ${stderr}`)),
    );
  });
  return performance.now() - started;
}

async function catchUp(cluster: Cluster): Promise<string[]> {
  const url = cluster.primary.url;
  const recvlogical = join(cluster.binaries.binDir, 'pg_recvlogical');
  if (!existsSync(recvlogical)) throw new Error(`pg_recvlogical not found at ${recvlogical}`);
  await query(
    url,
    'CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, note text)',
  );
  await query(url, `CREATE PUBLICATION ${PUBLICATION} FOR TABLE orders`);
  await query(url, "SELECT pg_create_logical_replication_slot('bench_base', 'pgoutput')");
  const tools = ['dispatcher', 'pg_recvlogical', 'slot'] as const;
  const slotName = (tool: (typeof tools)[number], round: number): string =>
    `bench_${tool.replace(/[^a-z]/g, '')}_${round}`;
  for (let round = 0; round < ROUNDS; round++) {
    for (const tool of tools)
      await query(url, "SELECT pg_copy_logical_replication_slot('bench_base', $1)", [
        slotName(tool, round),
      ]);
  }
  log(`inserting ${ROWS} rows in ${TRANSACTIONS} transactions`);
  const perTransaction = ROWS / TRANSACTIONS;
  const client = new pg.Client(url);
  await client.connect();
  for (let t = 0; t < TRANSACTIONS; t++) {
    await client.query(
      `INSERT INTO orders SELECT g, 'customer ' || (g % 1000), (g % 10000) / 100.0, now(), CASE WHEN g % 3 = 0 THEN NULL ELSE 'note for order ' || g END
         FROM generate_series($1::int, $2::int) g`,
      [t * perTransaction + 1, (t + 1) * perTransaction],
    );
  }
  await client.end();
  await query(url, 'CHECKPOINT');
  // The last commit's end LSN: the position of the last message pgoutput produces for the slot.
  const [version] = await query(url, "SELECT current_setting('server_version_num')::int AS v");
  const protocolVersion = version.v >= 160000 ? 4 : version.v >= 150000 ? 3 : 2;
  const [last] = await query(
    url,
    `SELECT max(lsn)::text AS lsn FROM pg_logical_slot_peek_binary_changes('bench_base', NULL, NULL, 'proto_version', '${protocolVersion}', 'publication_names', '${PUBLICATION}')`,
  );
  const target = parseLsn(last.lsn as string);
  log(`last commit ends at ${lsnText(target)}; protocol ${protocolVersion}`);

  const times: Record<(typeof tools)[number], number[]> = {
    dispatcher: [],
    pg_recvlogical: [],
    slot: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no tool always runs first.
    const order = [...tools.slice(round % tools.length), ...tools.slice(0, round % tools.length)];
    for (const tool of order) {
      const slot = slotName(tool, round);
      const ms =
        tool === 'dispatcher'
          ? await runDispatcher(url, slot, target)
          : tool === 'slot'
            ? await runSlot(url, slot, target)
            : await runRecvlogical(recvlogical, url, slot, protocolVersion, target);
      times[tool].push(ms);
      log(`catch-up round ${round + 1}: ${tool} ${ms.toFixed(0)} ms`);
      globalThis.gc?.();
    }
  }
  const base = median(times.pg_recvlogical);
  const row = (tool: (typeof tools)[number], note: string): string => {
    const m = median(times[tool]);
    return `| ${tool} | ${note} | ${m.toFixed(0)} | ${times[tool].map((t) => t.toFixed(0)).join(', ')} | ${Math.round(ROWS / (m / 1000)).toLocaleString('en-US')} | ${(m / base).toFixed(2)}x |`;
  };
  const ratio = median(times.dispatcher) / base;
  return [
    '## Dispatcher catch-up (@koyo/dispatcher)',
    '',
    `${ROWS.toLocaleString('en-US')} rows (int, text, numeric, timestamptz, nullable text) inserted in ${TRANSACTIONS} transactions before the consumer starts; time from starting it until the last commit is acknowledged and it has stopped, median of ${ROUNDS} rounds in rotating order, each run on its own copy of the same slot (\`pg_copy_logical_replication_slot\`), pgoutput protocol ${protocolVersion}, PostgreSQL ${cluster.binaries.version} on loopback. The dispatcher decodes every row, builds a \`Change\` for it and calls a no-op \`onChange\` handler; the raw \`@koyo/slot\` stream it is built on shows what the dispatcher layer adds; pg_recvlogical (same options) writes the raw payload to /dev/null and stops at \`--endpos\`.`,
    '',
    '| consumer | what it does | median ms | runs (ms) | rows/s | vs pg_recvlogical |',
    '| --- | --- | ---: | --- | ---: | ---: |',
    row('pg_recvlogical', 'C, no decoding'),
    row('slot', 'the @koyo/slot stream underneath: decodes, acknowledges each commit'),
    row('dispatcher', 'createDispatcher + no-op onChange, concurrency 1'),
    '',
    `Goal: within 1.15x of pg_recvlogical: ${ratio <= 1.15 ? 'met' : 'not met'} (${ratio.toFixed(2)}x).`,
  ];
}

/** A second process commits single-row transactions at RATE per second for `seconds`. */
function writer(url: string, table: string, seconds: number): Promise<void> {
  const script = `
    import pg from 'pg';
    const [url, rate, seconds] = process.argv.slice(1);
    const total = Number(rate) * Number(seconds);
    const clients = await Promise.all(Array.from({ length: 8 }, async () => { const c = new pg.Client(url); await c.connect(); return c; }));
    const start = performance.now();
    let next = 0;
    await Promise.all(clients.map(async (client) => {
      for (;;) {
        const i = next++;
        if (i >= total) break;
        const due = start + (i * 1000) / Number(rate);
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        await client.query('INSERT INTO ${table} (n) VALUES ($1)', [i]);
      }
    }));
    await Promise.all(clients.map((c) => c.end()));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, url, String(RATE), String(seconds)],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`writer exited with ${code}`)),
    );
  });
}

/** Milliseconds since a commit time given in microseconds since the Unix epoch (same machine clock). */
function sinceCommit(commitMicros: number): number {
  return performance.timeOrigin + performance.now() - commitMicros / 1000;
}

/** Commit time of a Change (ISO with microseconds) in microseconds since the Unix epoch. */
function changeCommitMicros(commitTime: string): number {
  return Date.parse(`${commitTime.slice(0, 19)}Z`) * 1000 + Number(commitTime.slice(20, 26));
}

async function latency(cluster: Cluster): Promise<string[]> {
  const url = cluster.primary.url;
  // Both consumers run at the same time on the same writes, each on its own slot, so machine
  // load affects them alike: the raw @koyo/slot stream is the baseline of what the dispatcher adds.
  await query(url, 'CREATE TABLE ticks (id bigserial PRIMARY KEY, n int NOT NULL)');
  await query(url, 'CREATE PUBLICATION ticks_pub FOR TABLE ticks');
  await query(url, "SELECT pg_create_logical_replication_slot('bench_latency_raw', 'pgoutput')");
  const rawLatencies: number[] = [];
  const dispatcherLatencies: number[] = [];
  let rawSeen = 0;
  let dispatcherSeen = 0;

  const stream = openReplicationStream({
    connection: url,
    slot: 'bench_latency_raw',
    publications: ['ticks_pub'],
  });
  let commitMicros = 0;
  const loop = (async () => {
    for await (const event of stream) {
      if (event.kind !== 'message') continue;
      const m = event.message;
      if (m.tag === 'begin') commitMicros = Number(m.commitTimeMicros);
      else if (m.tag === 'insert') {
        const ms = sinceCommit(commitMicros);
        // The first second of writes (RATE changes) is warm-up.
        if (++rawSeen > RATE) rawLatencies.push(ms);
      } else if (m.tag === 'commit') stream.acknowledge(m.endLsn);
    }
  })();
  await stream.ready();

  const dispatcher = createDispatcher({
    connection: url,
    slot: 'bench_latency',
    publication: 'ticks_pub',
    logger: false,
  });
  dispatcher.onChange((change) => {
    const ms = sinceCommit(changeCommitMicros(change.commitTime));
    if (++dispatcherSeen > RATE) dispatcherLatencies.push(ms);
  });
  await dispatcher.start();
  await dispatcher.drain();

  log(`latency: ${RATE} transactions/s for ${LATENCY_SECONDS} s from a second process`);
  const started = performance.now();
  await writer(url, 'ticks', LATENCY_SECONDS);
  const achieved =
    ((await query(url, 'SELECT count(*)::int AS n FROM ticks'))[0].n as number) /
    ((performance.now() - started) / 1000);
  await dispatcher.drain();
  await dispatcher.stop();
  const total = (await query(url, 'SELECT count(*)::int AS n FROM ticks'))[0].n as number;
  while (rawSeen < total) await sleep(20);
  await stream.stop();
  await loop;

  const runs: [string, string, number[]][] = [
    [
      '@koyo/slot stream (baseline)',
      'openReplicationStream, acknowledge each commit',
      rawLatencies.sort((a, b) => a - b),
    ],
    [
      'dispatcher',
      'createDispatcher + onChange, concurrency 1',
      dispatcherLatencies.sort((a, b) => a - b),
    ],
  ];
  for (const [name, , sorted] of runs)
    log(
      `latency: ${name} p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms over ${sorted.length} changes`,
    );
  const p99 = percentile(runs[1]![2], 99);
  return [
    '## Dispatcher commit-to-handler latency (@koyo/dispatcher)',
    '',
    `A second process (8 connections) commits single-row INSERT transactions aiming at a steady ${RATE.toLocaleString('en-US')}/s for ${LATENCY_SECONDS} s (achieved ${Math.round(achieved).toLocaleString('en-US')}/s, including its process start). Two consumers run at the same time, each on its own slot of the same publication: the dispatcher and, as the baseline of what it adds, the raw \`@koyo/slot\` stream. Each measures, when it gets a row, the time since the transaction's commit timestamp (microseconds, same machine clock). The first ${RATE.toLocaleString('en-US')} changes (one second of writes) are warm-up and not counted. PostgreSQL ${cluster.binaries.version} on loopback.`,
    '',
    '| consumer | what it does | changes measured | p50 ms | p90 ms | p99 ms | max ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(
      ([name, note, sorted]) =>
        `| ${name} | ${note} | ${sorted.length.toLocaleString('en-US')} | ${percentile(sorted, 50).toFixed(2)} | ${percentile(sorted, 90).toFixed(2)} | ${percentile(sorted, 99).toFixed(2)} | ${sorted[sorted.length - 1]!.toFixed(2)} |`,
    ),
    '',
    `Goal: dispatcher p99 under 20 ms: ${p99 < 20 ? 'met' : 'not met'}.`,
  ];
}

async function memory(cluster: Cluster): Promise<string[]> {
  const url = cluster.primary.url;
  await query(
    url,
    'CREATE TABLE big (id int PRIMARY KEY, customer text NOT NULL, amount numeric(12,2) NOT NULL, note text)',
  );
  await query(url, 'CREATE PUBLICATION big_pub FOR TABLE big');
  await query(url, "SELECT pg_create_logical_replication_slot('bench_big', 'pgoutput')");
  log(`memory: inserting ${BIG_ROWS} rows in one transaction`);
  await query(
    url,
    `INSERT INTO big SELECT g, 'customer ' || (g % 1000), (g % 10000) / 100.0, 'note for order ' || g FROM generate_series(1, ${BIG_ROWS}) g`,
  );
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const dispatcher = createDispatcher({
    connection: url,
    slot: 'bench_big',
    publication: 'big_pub',
    createSlot: false,
    createPublication: false,
    logger: false,
  });
  let rows = 0;
  let chunks = 0;
  dispatcher.onChange(() => {
    rows++;
  });
  dispatcher.onTransaction(() => {
    chunks++;
  });
  const started = performance.now();
  await dispatcher.start();
  await dispatcher.drain();
  const ms = performance.now() - started;
  await dispatcher.stop();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (rows !== BIG_ROWS) throw new Error(`handled ${rows} rows, expected ${BIG_ROWS}`);
  const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
  log(`memory: peak RSS ${mb(peak)} MB (baseline ${mb(baseline)} MB)`);
  return [
    '## Dispatcher memory on a 1M-row transaction (@koyo/dispatcher)',
    '',
    `One transaction inserts ${BIG_ROWS.toLocaleString('en-US')} rows (int, text, numeric, text) before the dispatcher starts; it dispatches them with a no-op \`onChange\` handler and an \`onTransaction\` handler (1,000-change chunks). RSS of the whole benchmark process (which also holds the tooling), sampled every 10 ms.`,
    '',
    '| rows | chunks | time ms | RSS before MB | peak RSS MB |',
    '| ---: | ---: | ---: | ---: | ---: |',
    `| ${rows.toLocaleString('en-US')} | ${chunks.toLocaleString('en-US')} | ${ms.toFixed(0)} | ${mb(baseline)} | ${mb(peak)} |`,
    '',
    `Goal: under 200 MB: ${peak < 200 * 2 ** 20 ? 'met' : 'not met'}.`,
  ];
}

log('starting PostgreSQL (system)');
const cluster = await startCluster({ postgres: 'system', replicas: 0 });
try {
  const sections = [await catchUp(cluster), await latency(cluster), await memory(cluster)];
  process.stdout.write(`${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`);
} finally {
  await cluster.stop();
}
process.exit(0);
