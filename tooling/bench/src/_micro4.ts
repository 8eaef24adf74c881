import { performance } from 'node:perf_hooks';
const b = Buffer.from('2026-12-06 20:01:30.207123+00\t123');
let sink: unknown;
function d2(buf: Buffer, p: number) { const a = buf[p]! - 48, c = buf[p + 1]! - 48; return (a >>> 0) > 9 || (c >>> 0) > 9 ? -1 : a * 10 + c; }
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
function fast(buf: Buffer, start: number, end: number) {
  const y1 = d2(buf, start), y2 = d2(buf, start + 2);
  const year = y1 * 100 + y2;
  const month = d2(buf, start + 5), day = d2(buf, start + 8);
  const hour = d2(buf, start + 11), minute = d2(buf, start + 14), second = d2(buf, start + 17);
  let p = start + 19; let ms = 0;
  if (buf[p] === 0x2e) { let n = 0; let k = 0; p++; while (p < end) { const c = buf[p]! - 48; if ((c >>> 0) > 9) break; n = n * 10 + c; p++; k++; } ms = 1000 * (n / 10 ** k); }
  const sign = buf[p]; const off = d2(buf, p + 1) * 3600;
  const utc = daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + Math.trunc(ms);
  return utc - (sign === 0x2d ? -off : off) * 1000;
}
for (let round = 0; round < 5; round++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) sink = fast(b, 0, 29);
  console.log('fast number 1M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink = new Date(fast(b, 0, 29));
  console.log('fast+Date 1M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) sink = new Date(1.7e12 + i);
  console.log('Date only 1M', (performance.now() - t).toFixed(0));
}
console.log(sink);
