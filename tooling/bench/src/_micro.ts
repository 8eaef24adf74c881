import { CopyTextRowDecoder } from '@koyo/pgoutput';
import { performance } from 'node:perf_hooks';
const rows: Buffer[] = [];
for (let g = 1; g <= 10000; g++) {
  const d = new Date(Date.now() - g * 1000).toISOString().replace('T', ' ').replace('Z', '+00');
  rows.push(Buffer.from(`${g}\t${g % 1000}\t${'a'.repeat(32)}\t${(g / 7).toFixed(16)}\t${d}\n`));
}
const big = Buffer.concat(rows);
const ends: number[] = []; let e = 0; for (const r of rows) { e += r.length; ends.push(e); }
const dec = new CopyTextRowDecoder([{ name: 'id', typeOid: 20 }, { name: 'a', typeOid: 23 }, { name: 'b', typeOid: 25 }, { name: 'c', typeOid: 1700 }, { name: 'd', typeOid: 1184 }]);
let sink: unknown;
for (let round = 0; round < 12; round++) {
  const t = performance.now();
  for (let k = 0; k < 100; k++) for (let i = 0; i < 10000; i++) sink = dec.decode(big, i === 0 ? 0 : ends[i - 1], ends[i]);
  console.log('decode 1M', (performance.now() - t).toFixed(0), 'ms');
}
console.log(sink);
