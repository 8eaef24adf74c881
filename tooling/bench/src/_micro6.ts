import { performance } from 'node:perf_hooks';
const b = Buffer.from('2026-12-06 20:01:30.207123+00\t123');
let sink = 0;
function frac(buf: Buffer, p: number, end: number) { let n = 0; let k = 0; while (p < end) { const c = buf[p]! - 48; if ((c >>> 0) > 9) break; n = n * 10 + c; p++; k++; } return 1000 * (n / 10 ** k); }
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
function frac2(buf: Buffer, p: number, end: number) { let n = 0; let k = 0; while (p < end) { const c = buf[p]! - 48; if (c < 0 || c > 9) break; n = n * 10 + c; p++; k++; } return 1000 * (n / POW10[k]!); }
for (let round = 0; round < 4; round++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) sink += frac(b, 20, 29);
  console.log('frac **', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink += frac2(b, 20, 29);
  console.log('frac POW10', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink += Math.trunc(frac2(b, 20, 29));
  console.log('trunc', (performance.now() - t).toFixed(0));
}
console.log(sink);
