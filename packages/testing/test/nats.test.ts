// startNats(): a real nats-server with JetStream on a free port, stoppable and restartable on the
// same port and store, gone after close().
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startNats } from '../src/index.js';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.once('data', (chunk: Buffer) => {
        socket.destroy();
        resolve(
          chunk.toString('utf8').startsWith('INFO') &&
            chunk.toString('utf8').includes('"jetstream":true'),
        );
      });
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startNats', () => {
  it('runs nats-server -js, stops and starts it on the same port, and removes its store on close', async () => {
    const nats = await startNats();
    try {
      expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
      expect(await reachable(nats.port)).toBe(true);
      await nats.stop();
      expect(nats.running()).toBe(false);
      expect(await reachable(nats.port)).toBe(false);
      await nats.start();
      expect(await reachable(nats.port)).toBe(true);
    } finally {
      await nats.close();
    }
    expect(existsSync(nats.storeDir!)).toBe(false);
    expect(await reachable(nats.port)).toBe(false);
  });
});
