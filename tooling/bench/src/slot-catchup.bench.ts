// Catch-up: 200,000 rows inserted in 200 transactions before the stream starts; time until the
// last commit is received and acknowledged. koyo (@koyo/slot, decoding every row), pg_recvlogical
// (C, writes the raw pgoutput to /dev/null) and pg-logical-replication (decoding every row), each
// on its own copy of the same slot (pg_copy_logical_replication_slot), in alternating rounds.
// Progress goes to stderr; the Markdown section to stdout.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatLsn } from '@koyo/pgoutput';
import { createSlotManager, openReplicationStream } from '@koyo/slot';
import { startCluster, type Cluster } from '@koyo/testing';
import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';

const ROWS = 200_000;
const TRANSACTIONS = 200;
const ROUNDS = 5;
const PUBLICATION = 'bench_pub';

const log = (message: string): void => {
  process.stderr.write(`slot-catchup: ${message}\n`);
};

async function query(url: string, sql: string, params: unknown[] = []): Promise<any[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** koyo: iterate, decode everything, acknowledge the last commit, stop (final status update). */
async function runKoyo(
  url: string,
  slot: string,
  protocolVersion: number,
  target: bigint,
): Promise<number> {
  const started = performance.now();
  const stream = openReplicationStream({
    connection: url,
    slot,
    publications: [PUBLICATION],
    protocolVersion: protocolVersion as 1 | 2 | 3 | 4,
  });
  let rows = 0;
  for await (const event of stream) {
    if (event.kind !== 'message') continue;
    const m = event.message;
    if (m.tag === 'insert') rows++;
    else if (m.tag === 'commit' && m.endLsn >= target) {
      stream.acknowledge(m.endLsn);
      break; // ends the loop and stops the stream: final status update, CopyDone, close
    }
  }
  await stream.stop();
  const elapsed = performance.now() - started;
  if (rows !== ROWS) throw new Error(`koyo received ${rows} rows, expected ${ROWS}`);
  return elapsed;
}

/** pg_recvlogical: until it reaches the last commit's end (--endpos), then exits after its final feedback. */
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
        `--endpos=${formatLsn(target)}`,
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

/** pg-logical-replication: manual acknowledgement of the last commit, then stop. */
async function runPgLogicalReplication(
  url: string,
  slot: string,
  protocolVersion: number,
  target: bigint,
): Promise<number> {
  const started = performance.now();
  const service = new LogicalReplicationService(
    { connectionString: url },
    { acknowledge: { auto: false, timeoutSeconds: 0 } },
  );
  const plugin = new PgoutputPlugin({
    protoVersion: protocolVersion as 1 | 2,
    publicationNames: [PUBLICATION],
  });
  let rows = 0;
  // This library prints LSNs zero-padded ("00000000/035A2B10").
  const [high, low] = formatLsn(target).split('/') as [string, string];
  const targetText = `${high.padStart(8, '0')}/${low.padStart(8, '0')}`;
  await new Promise<void>((resolve, reject) => {
    service.on('error', reject);
    service.on('data', (_lsn: string, message: { tag: string; commitEndLsn?: string | null }) => {
      if (message.tag === 'insert') rows++;
      else if (message.tag === 'commit' && message.commitEndLsn === targetText) {
        void service
          .acknowledge(message.commitEndLsn)
          .then(() => service.stop())
          .then(() => resolve(), reject);
      }
    });
    service.subscribe(plugin, slot).catch(reject);
  });
  const elapsed = performance.now() - started;
  if (rows !== ROWS)
    throw new Error(`pg-logical-replication received ${rows} rows, expected ${ROWS}`);
  return elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// pg-logical-replication's stop() ends its pg client while START_REPLICATION is running; pg then
// emits "Connection terminated unexpectedly" after the library has removed its listeners. That is
// the library's shutdown noise, not a failure of the run (its rows were counted above).
process.on('uncaughtException', (error) => {
  if (/Connection terminated unexpectedly/.test(String(error))) return;
  process.stderr.write(`${String(error?.stack ?? error)}\n`);
  process.exit(1);
});

async function main(): Promise<void> {
  log('starting PostgreSQL (system)');
  const cluster: Cluster = await startCluster({ postgres: 'system', replicas: 0 });
  try {
    const url = cluster.primary.url;
    const recvlogical = join(cluster.binaries.binDir, 'pg_recvlogical');
    if (!existsSync(recvlogical)) throw new Error(`pg_recvlogical not found at ${recvlogical}`);
    await query(
      url,
      'CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, note text)',
    );
    const manager = createSlotManager(url);
    await manager.ensurePublication(PUBLICATION, { tables: ['orders'] });
    await manager.ensureSlot('bench_base');
    await manager.close();
    const tools = ['koyo', 'pg_recvlogical', 'pg-logical-replication'] as const;
    const slotName = (tool: (typeof tools)[number], round: number): string =>
      `bench_${tool.replace(/[^a-z]/g, '')}_${round}`;
    for (let round = 0; round < ROUNDS; round++) {
      for (const tool of tools)
        await query(url, "SELECT pg_copy_logical_replication_slot('bench_base', $1)", [
          slotName(tool, round),
        ]);
    }
    await query(url, "SELECT pg_copy_logical_replication_slot('bench_base', 'bench_probe')");

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

    // The last commit's end LSN, read by a probe run (which also warms the server's caches).
    const [version] = await query(url, "SELECT current_setting('server_version_num')::int AS v");
    const protocolVersion = version.v >= 160000 ? 4 : version.v >= 150000 ? 3 : 2;
    let target = 0n;
    let commits = 0;
    const probe = openReplicationStream({
      connection: url,
      slot: 'bench_probe',
      publications: [PUBLICATION],
    });
    for await (const event of probe) {
      if (event.kind === 'message' && event.message.tag === 'commit') {
        target = event.message.endLsn;
        if (++commits === TRANSACTIONS) break;
      }
    }
    log(`last commit ends at ${formatLsn(target)}; protocol ${protocolVersion}`);

    const times: Record<(typeof tools)[number], number[]> = {
      koyo: [],
      pg_recvlogical: [],
      'pg-logical-replication': [],
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no tool always runs first.
      const order = [...tools.slice(round % tools.length), ...tools.slice(0, round % tools.length)];
      for (const tool of order) {
        const slot = slotName(tool, round);
        const ms =
          tool === 'koyo'
            ? await runKoyo(url, slot, protocolVersion, target)
            : tool === 'pg_recvlogical'
              ? await runRecvlogical(recvlogical, url, slot, protocolVersion, target)
              : await runPgLogicalReplication(url, slot, protocolVersion, target);
        times[tool].push(ms);
        log(`round ${round + 1}: ${tool} ${ms.toFixed(0)} ms`);
        globalThis.gc?.();
      }
    }

    const base = median(times.pg_recvlogical);
    const rowsFor = (tool: (typeof tools)[number], note: string): string => {
      const m = median(times[tool]);
      return `| ${tool} | ${note} | ${m.toFixed(0)} | ${times[tool].map((t) => t.toFixed(0)).join(', ')} | ${Math.round(ROWS / (m / 1000)).toLocaleString('en-US')} | ${(m / base).toFixed(2)}x |`;
    };
    const lines = [
      '## Slot catch-up (@koyo/slot)',
      '',
      `${ROWS.toLocaleString('en-US')} rows (5 columns: int, text, numeric, timestamptz, nullable text) inserted in ${TRANSACTIONS} transactions before streaming starts; time from starting the consumer until the last commit is received and acknowledged (and the consumer has stopped), median of ${ROUNDS} rounds in rotating order, each run on its own copy of the same slot (\`pg_copy_logical_replication_slot\`), pgoutput protocol ${protocolVersion}, PostgreSQL ${cluster.binaries.version} on loopback. koyo and pg-logical-replication decode every row; pg_recvlogical writes the raw payload to /dev/null and stops at \`--endpos\`.`,
      '',
      '| consumer | what it does | median ms | runs (ms) | rows/s | vs pg_recvlogical |',
      '| --- | --- | ---: | --- | ---: | ---: |',
      rowsFor('pg_recvlogical', 'C, no decoding'),
      rowsFor('koyo', 'openReplicationStream, decodes and parses values, acknowledge()'),
      rowsFor('pg-logical-replication', 'v2.5, decodes, manual acknowledge'),
      '',
      `Goal: koyo within 1.15x of pg_recvlogical: ${median(times.koyo) / base <= 1.15 ? 'met' : 'not met'} (${(median(times.koyo) / base).toFixed(2)}x).`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await cluster.stop();
  }
}

await main();
process.exit(0);
