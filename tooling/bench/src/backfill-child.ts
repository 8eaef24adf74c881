// One backfill in a fresh process, for backfill.bench.ts: RSS then measures the backfill, not
// whatever the benchmark process allocated before. Prints one JSON line {ms, cpu, rows, rss}.
//   tsx backfill-child.ts <url> <slot> <chunkSize | default>
import { performance } from 'node:perf_hooks';
import { createDispatcher } from '@koyo/dispatcher';

const [url, slot, chunkText] = process.argv.slice(2);
if (!url || !slot || !chunkText) throw new Error('usage: backfill-child.ts url slot chunkSize');

const dispatcher = createDispatcher({
  connection: url,
  slot,
  publication: 'bench_pub',
  tables: ['t'],
  logger: false,
});
let handled = 0;
dispatcher.onTable('t', {
  snapshot: () => {
    handled++;
  },
});
await dispatcher.start();
// memoryUsage.rss() reads the RSS alone (memoryUsage() walks the heap's spaces too).
let rss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  rss = Math.max(rss, process.memoryUsage.rss());
}, 20);
const started = performance.now();
const cpuBefore = process.cpuUsage();
const result = await dispatcher.backfill(
  't',
  chunkText === 'default' ? {} : { chunkSize: Number(chunkText) },
);
const ms = performance.now() - started;
const cpuUsed = process.cpuUsage(cpuBefore);
/** CPU time of the process (all its threads) during the backfill, ms: wall minus this is waiting. */
const cpu = (cpuUsed.user + cpuUsed.system) / 1000;
clearInterval(sampler);
rss = Math.max(rss, process.memoryUsage.rss());
if (process.env.KOYO_BENCH_MEMORY)
  process.stderr.write(`${JSON.stringify(process.memoryUsage())}\n`);
await dispatcher.stop();
if (handled !== result.tables[0]!.rows)
  throw new Error(`handled ${handled}, result says ${result.tables[0]!.rows}`);
process.stdout.write(`${JSON.stringify({ ms, cpu, rows: handled, rss })}\n`);
