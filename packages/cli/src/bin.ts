#!/usr/bin/env node
import { main } from './main.js';

// SIGINT/SIGTERM: `koyo run` installs its own graceful handlers; for the other commands
// (tail in particular) the first signal aborts the command, which then cleans up and exits 0.
const controller = new AbortController();
const onSignal = (): void => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
};
const isRun = process.argv[2] === 'run';
if (!isRun) {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// `koyo tail | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const code = await main(process.argv.slice(2), { signal: controller.signal });
process.exitCode = code;
// Anything left open (a pool a handler forgot to close) must not keep koyo alive once done.
setTimeout(() => process.exit(code), 2000).unref();
