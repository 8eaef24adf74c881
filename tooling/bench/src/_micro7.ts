import { performance } from 'node:perf_hooks';
import { parseDateFast } from '../../../packages/pgoutput/src/text-values.ts';
const b = Buffer.from('2026-12-06 20:01:30.207123+00\t123');
let sink: unknown;
const fb = (s: string) => s;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
function days(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
function d2(buf: Buffer, p: number): number { const a = buf[p]! - 48, c = buf[p + 1]! - 48; return a < 0 || a > 9 || c < 0 || c > 9 ? -1 : a * 10 + c; }
function alt(buf: Buffer, start: number, end: number): number {
  const y = d2(buf, start) * 100 + d2(buf, start + 2);
  const mo = d2(buf, start + 5), da = d2(buf, start + 8), h = d2(buf, start + 11), mi = d2(buf, start + 14), s = d2(buf, start + 17);
  let p = start + 19; let ms = 0;
  if (buf[p] === 0x2e) { let n = 0; let k = 0; p++; while (p < end) { const c = buf[p]! - 48; if (c < 0 || c > 9) break; n = n * 10 + c; p++; k++; } ms = 1000 * (n / POW10[k]!); }
  const sign = buf[p]; const off = d2(buf, p + 1) * 3600;
  return days(y, mo, da) * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + Math.trunc(ms) - (sign === 0x2d ? -off : off) * 1000;
}
for (let round = 0; round < 5; round++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) sink = parseDateFast(b, 0, 29, fb);
  console.log('real', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink = new Date(alt(b, 0, 29));
  console.log('alt+Date', (performance.now() - t).toFixed(0));
}
console.log(sink, new Date(alt(b, 0, 29)));
