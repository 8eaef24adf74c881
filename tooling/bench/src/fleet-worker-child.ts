// A worker of nats-fleet.bench.ts: a 5 ms handler on every change; prints "ready" once its
// consumers are joined, then "handled <n>" every 50 ms; stops on SIGTERM.
//   tsx fleet-worker-child.ts <natsUrl> <stream> <durable> <partitions> <handlerMs>
import { createNatsWorker } from '@koyo/nats';

const [natsUrl, stream, durable, partitions, handlerMs] = process.argv.slice(2);
if (!natsUrl || !stream || !durable || !partitions || !handlerMs)
  throw new Error('usage: fleet-worker-child.ts natsUrl stream durable partitions handlerMs');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let handled = 0;
const worker = createNatsWorker({
  nats: { servers: natsUrl },
  stream,
  durable,
  partitions: Number(partitions),
  handler: async () => {
    await sleep(Number(handlerMs));
    handled += 1;
  },
});
process.on('SIGTERM', () => {
  void worker.stop().then(() => process.exit(0));
});
await worker.start();
process.stdout.write('ready\n');
let last = -1;
setInterval(() => {
  if (handled !== last) process.stdout.write(`handled ${(last = handled)}\n`);
}, 50);
