import { performance } from 'node:perf_hooks';
import { parseDateFast, parseIntFast } from '../../../packages/pgoutput/src/text-values.ts';
const b = Buffer.from('2026-12-06 20:01:30.207123+00\t123');
let sink: unknown;
const fb = (s: string) => s;
for (let round = 0; round < 5; round++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) sink = parseDateFast(b, 0, 29, fb);
  console.log('date 1M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink = parseIntFast(b, 30, 33, fb);
  console.log('int 1M', (performance.now() - t).toFixed(0));
}
console.log(sink);
