// One worker process of the tour's scale-out section: handles the orders table's changes from
// the demo's JetStream stream, printing one JSON line when it takes a change and one when it is
// done (just before the acknowledgement). Started by tour.ts; stops on SIGTERM.
//   tsx scale-worker.ts <natsUrl> <stream> <durable> <partitions> <worker>
import { createNatsWorker, type Change } from '@koyo/nats';

const [natsUrl, stream, durable, partitions, worker] = process.argv.slice(2);
if (!natsUrl || !stream || !durable || !partitions || !worker) {
  console.error('usage: scale-worker.ts natsUrl stream durable partitions worker');
  process.exit(2);
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const print = (event: string, change: Change): void => {
  const row = (change.new ?? change.old ?? {}) as { status?: unknown };
  console.log(
    JSON.stringify({
      event,
      worker,
      id: change.id,
      kind: change.kind,
      status: row.status ?? null,
      commitLsn: change.commitLsn,
      position: change.position,
    }),
  );
};

const fleet = createNatsWorker({
  nats: { servers: natsUrl },
  stream,
  durable,
  partitions: Number(partitions),
  // A killed worker's change goes to the other worker after 1.5 s.
  ackWaitMs: 1_500,
  handlers: {
    'public.orders': async (change) => {
      print('took', change);
      await sleep(150); // some work per change: an e-mail, an API call, ...
      print('done', change);
    },
  },
});
const stop = (): void => {
  void fleet.stop().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
await fleet.start();
console.log(JSON.stringify({ event: 'ready', worker }));
