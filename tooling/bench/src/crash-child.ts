// A dispatcher in its own process for dispatcher-crash.bench.ts: every handled insert appends its
// id to a file (a SIGKILL keeps what reached the kernel), with the given ackDelayMs.
//   tsx crash-child.ts <url> <slot> <publication> <outFile> <ackDelayMs | Infinity>
import { openSync, writeSync } from 'node:fs';
import { createDispatcher } from '@koyo/dispatcher';

const [url, slot, publication, outFile, ackDelayText] = process.argv.slice(2);
if (!url || !slot || !publication || !outFile || !ackDelayText)
  throw new Error('usage: crash-child.ts url slot publication outFile ackDelayMs');

const fd = openSync(outFile, 'a');
const dispatcher = createDispatcher({
  connection: url,
  slot,
  publication,
  createSlot: false,
  createPublication: false,
  logger: false,
  ackDelayMs: Number(ackDelayText),
});
dispatcher.onChange((change) => {
  writeSync(fd, `${String((change.new as { id: number }).id)}\n`);
});
dispatcher.closed.catch((error: unknown) => {
  process.stderr.write(`crash-child: dispatcher failed: ${String(error)}\n`);
  process.exit(1);
});
await dispatcher.start();
process.stdout.write('started\n');
