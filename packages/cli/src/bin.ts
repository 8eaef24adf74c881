#!/usr/bin/env node
import { main } from './main.js';

// SIGINT/SIGTERM: `koyo run` and `koyo relay` install their own graceful handlers. `koyo tail` stops on the first
// signal (dropping what it created) and exits 0. Every other command just exits 130.
const controller = new AbortController();
const command = process.argv[2];
const onSignal = (): void => {
  if (command !== 'tail' || controller.signal.aborted) process.exit(130);
  controller.abort();
};
if (command !== 'run' && command !== 'relay') {
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
