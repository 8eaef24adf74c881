import { performance } from 'node:perf_hooks';
const b = Buffer.from('2026-12-06 20:01:30.207123+00\t123');
const u = new Uint8Array(b);
let sink = 0;
function d2(buf: Uint8Array, p: number) { const a = buf[p]! - 48, c = buf[p + 1]! - 48; return a * 10 + c; }
function f1(buf: Uint8Array, start: number) { return d2(buf, start) + d2(buf, start + 2) + d2(buf, start + 5) + d2(buf, start + 8) + d2(buf, start + 11) + d2(buf, start + 14) + d2(buf, start + 17); }
function days(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
for (let round = 0; round < 4; round++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) sink += f1(b, 0);
  console.log('7x d2 Buffer', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink += f1(u, 0);
  console.log('7x d2 Uint8Array', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink += days(2026, 12, 6 + (i & 7));
  console.log('days', (performance.now() - t).toFixed(0));
}
console.log(sink);
