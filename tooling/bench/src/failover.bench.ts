// @koyo/dispatcher across a real failover (PostgreSQL 17 and 18): a dispatcher on a failover
// slot with a connection naming both hosts consumes while a writer commits one row per
// transaction; once the slot is synchronised to the standby, the primary is SIGKILLed and the
// standby promoted at once (as an HA tool would), and writes go on on the new primary. Measured
// from the kill: the promotion, the first change the dispatcher delivers over its new connection
// (from the new primary), and the first row written after the promotion.
// Markdown on stdout, progress on stderr.
import { createDispatcher } from '@koyo/dispatcher';
import { startCluster } from '@koyo/testing';
import pg from 'pg';

const ROUNDS = Number(process.env.KOYO_BENCH_ROUNDS ?? 3);
const MAJORS = ['17', '18'] as const;

const log = (message: string): void => void process.stderr.write(`failover.bench: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function lsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  ms = 120_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Round {
  promotedMs: number;
  firstChangeMs: number;
  firstNewRowMs: number;
  rows: number;
  redelivered: number;
}

async function round(major: (typeof MAJORS)[number]): Promise<Round & { version: string }> {
  const cluster = await startCluster({ postgres: major, replicas: 1, slotSync: true });
  try {
    const [primary, standby] = [cluster.primary, cluster.replicas[0]!];
    await primary.query('CREATE TABLE events (id int PRIMARY KEY)');
    const handled: number[] = [];
    let killedAt = 0;
    let reconnectsAtKill = 0;
    let firstChangeMs = -1;
    let firstNewRowMs = -1;
    let firstNewId = Number.POSITIVE_INFINITY;
    const dispatcher = createDispatcher({
      connection: `postgres://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/postgres`,
      slot: 'bench_failover',
      publication: 'bench_failover',
      tables: ['events'],
      failover: true,
      logger: false,
    });
    dispatcher.onTable<{ id: number }>('events', (change) => {
      if (change.kind !== 'insert') return;
      handled.push(change.new.id);
      if (killedAt === 0) return;
      if (firstChangeMs < 0 && dispatcher.stats().reconnects > reconnectsAtKill)
        firstChangeMs = Date.now() - killedAt;
      if (firstNewRowMs < 0 && change.new.id >= firstNewId) firstNewRowMs = Date.now() - killedAt;
    });
    await dispatcher.start();

    let next = 1;
    const writer = new pg.Client({ connectionString: primary.url });
    writer.on('error', () => undefined);
    await writer.connect();
    const writing = (async () => {
      for (;;) {
        try {
          await writer.query('INSERT INTO events VALUES ($1)', [next]);
        } catch {
          return;
        }
        next++;
        await sleep(2);
      }
    })();
    await until(() => handled.length >= 300, 'changes on the first primary');
    const [confirmed] = await primary.query<{ lsn: string }>(
      "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'bench_failover'",
    );
    await until(async () => {
      await primary.query('SELECT pg_log_standby_snapshot()'); // moves restart_lsn now, not in 15 s
      const [row] = await standby.query<{
        synced: boolean;
        temporary: boolean;
        lsn: string | null;
      }>(
        "SELECT synced, temporary, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'bench_failover'",
      );
      return (
        !!row &&
        row.synced &&
        !row.temporary &&
        row.lsn !== null &&
        lsn(row.lsn) >= lsn(confirmed!.lsn)
      );
    }, 'the slot synchronised to the standby');

    reconnectsAtKill = dispatcher.stats().reconnects;
    killedAt = Date.now();
    await primary.kill();
    await writing;
    await writer.end().catch(() => undefined);
    await standby.promote();
    const promotedMs = Date.now() - killedAt;
    firstNewId = next + 1;
    const after = new pg.Client({ connectionString: standby.url });
    await after.connect();
    for (let id = firstNewId; id < firstNewId + 100; id++)
      await after.query('INSERT INTO events VALUES ($1)', [id]);
    await after.end();
    const present = (await standby.query<{ id: number }>('SELECT id FROM events')).map((r) => r.id);
    await until(() => {
      const seen = new Set(handled);
      return present.every((id) => seen.has(id));
    }, 'every row of the new primary handled');
    await dispatcher.stop();
    return {
      version: cluster.binaries.version,
      promotedMs,
      firstChangeMs,
      firstNewRowMs,
      rows: present.length,
      redelivered: handled.length - new Set(handled).size,
    };
  } finally {
    await cluster.stop();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const major of MAJORS) {
    const rounds: Round[] = [];
    let version = major as string;
    for (let i = 0; i < ROUNDS; i++) {
      log(`PostgreSQL ${major}, round ${i + 1} of ${ROUNDS}`);
      const result = await round(major);
      version = result.version;
      rounds.push(result);
      log(JSON.stringify(result));
    }
    const col = (pick: (r: Round) => number): string =>
      `${median(rounds.map(pick))} (${rounds.map(pick).join(', ')})`;
    rows.push(
      `| ${version} | ${col((r) => r.promotedMs)} | ${col((r) => r.firstChangeMs)} | ${col((r) => r.firstNewRowMs)} | ${rounds.map((r) => r.rows.toLocaleString('en-US')).join(', ')} | ${rounds.map((r) => r.redelivered).join(', ')} |`,
    );
  }
  const lines = [
    '## Failover: primary death to the first change from the new primary (@koyo/dispatcher)',
    '',
    `A dispatcher with \`failover: true\` and a connection naming both hosts consumes while a writer commits one row per transaction (every 2 ms); once the slot is synchronised to the standby (\`startCluster({ slotSync: true })\`: physical slot, \`hot_standby_feedback\`, \`sync_replication_slots\`, \`synchronized_standby_slots\`), the primary is SIGKILLed and the standby promoted at once (\`pg_promote\`), then 100 rows are written on the new primary. Times in ms from the kill, median of ${ROUNDS} rounds (each round in brackets), default reconnect options (first retry after 200 ms), loopback. In every round every row of the new primary was delivered (that they come in commit order is asserted by \`@koyo/dispatcher\`'s failover test).`,
    '',
    '| PostgreSQL | promoted | first change from the new primary | first row written after the promotion delivered | rows | redelivered |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...rows,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
process.exit(0);
