import { createDispatcher } from '@koyo/dispatcher';
const [url, slot] = process.argv.slice(2);
const dispatcher = createDispatcher({ connection: url!, slot: slot!, publication: 'bench_pub', tables: ['t'], logger: false });
dispatcher.onTable('t', { snapshot: () => {} });
await dispatcher.start();
const t0 = performance.now();
await dispatcher.backfill('t', { chunkSize: 10000 });
const total = performance.now() - t0;
const t = (globalThis as any).__t as [string, number][];
let deliver = 0, ack = 0, gap = 0; let lastOutcome = -1, lastHigh = -1, lastDone = -1;
for (const [k, v] of t) {
  if (k === 'high') { if (lastOutcome >= 0) gap += v - lastOutcome; lastHigh = v; }
  if (k === 'done') { deliver += v - lastHigh; lastDone = v; }
  if (k === 'outcome') { ack += v - lastDone; lastOutcome = v; }
}
console.log({ total: Math.round(total), deliver: Math.round(deliver), doneToOutcome: Math.round(ack), outcomeToNextHigh: Math.round(gap), chunks: t.filter(x => x[0]==='high').length });
await dispatcher.stop();
let o = -1; const rows: string[] = [];
for (const [k, v] of t.slice(20, 60)) { if (k === 'outcome') o = v; rows.push(`${k} ${o < 0 ? '' : (v - o).toFixed(2)}`); }
console.log(rows.join('\n'));
