import { performance } from 'node:perf_hooks';
const b = Buffer.from('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\t1428.5714285714286689\t123456\t');
const s = b.latin1Slice(0, b.length);
let sink: unknown;
const td = new TextDecoder();
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) { sink = b.latin1Slice(0, 32); sink = b.latin1Slice(33, 54); sink = b.latin1Slice(55, 61); }
  console.log('latin1Slice 3M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) { sink = b.utf8Slice(0, 32); sink = b.utf8Slice(33, 54); sink = b.utf8Slice(55, 61); }
  console.log('utf8Slice 3M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) { sink = s.substring(0, 32); sink = s.substring(33, 54); sink = s.substring(55, 61); }
  console.log('substring 3M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) { sink = b.latin1Slice(0, b.length); }
  console.log('latin1Slice whole 1M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) { sink = new Date(1e12 + i); }
  console.log('Date 1M', (performance.now() - t).toFixed(0));
  t = performance.now();
  for (let i = 0; i < 1e6; i++) { sink = performance.now(); }
  console.log('now 1M', (performance.now() - t).toFixed(0));
}
