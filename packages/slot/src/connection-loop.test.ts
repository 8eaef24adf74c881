import { describe, expect, it } from 'vitest';
import {
  classifyConnectionError,
  ConnectionLoop,
  type ConnectionLoopOptions,
} from './connection-loop.js';
import { classifyError, KoyoSlotError } from './errors.js';
import { silentLogger } from './logger.js';
import type {
  ConnectionHandlers,
  PgConnection,
  ReplicationConnection,
  ServerFacts,
} from './replication-connection.js';

const facts: ServerFacts = {
  serverVersionNum: 180000,
  walSenderTimeoutMs: 60_000,
  confirmedFlushLsn: 0n,
  startLsn: 0n,
  protocolVersion: 4,
};

/** What each successive connection does: start streaming or not, then end with an error or cleanly. */
type Script = { start: boolean; error?: unknown };

function harness(scripts: Script[], overrides: Partial<ConnectionLoopOptions> = {}) {
  const log: string[] = [];
  let opened = 0;
  const loop: ConnectionLoop = new ConnectionLoop({
    reconnect: { initialDelayMs: 1, maxDelayMs: 1, maxAttempts: Number.POSITIVE_INFINITY },
    logger: silentLogger,
    slot: 'koyo',
    open: () => {
      const script = scripts[opened++];
      const fake = {
        run: (handlers: ConnectionHandlers) => {
          log.push(`run ${opened}`);
          if (!script) {
            loop.stop(); // out of script: the owner stops the loop
            return Promise.resolve();
          }
          if (script.start) handlers.onStart(facts, {} as PgConnection);
          return script.error === undefined ? Promise.resolve() : Promise.reject(script.error);
        },
        close: () => {
          log.push('close');
          return Promise.resolve();
        },
      };
      return fake as unknown as ReplicationConnection;
    },
    handlers: {
      onStart: (_facts, _pg, reconnect, attempt) =>
        log.push(`start reconnect=${reconnect} attempt=${attempt}`),
      onCopyData: () => undefined,
      onNotice: () => undefined,
    },
    onEnd: () => log.push('end'),
    classify: (error) => classifyError(error),
    beforeRetry: () => log.push('retry'),
    ...overrides,
  });
  return { loop, log };
}

const lost = (): Error => new Error('connection reset');

describe('ConnectionLoop', () => {
  it('reconnects after a lost connection, counting attempts since the last one that streamed', async () => {
    const { loop, log } = harness([
      { start: true, error: lost() },
      { start: false, error: lost() },
      { start: true, error: lost() },
    ]);
    await expect(loop.run()).resolves.toBeUndefined();
    expect(log).toEqual([
      'run 1',
      'start reconnect=false attempt=0',
      'end',
      'close',
      'retry',
      'run 2',
      'end',
      'close',
      'retry',
      'run 3',
      'start reconnect=true attempt=2',
      'end',
      'close',
      'retry',
      'run 4',
      'end',
      'close',
    ]);
  });

  it('treats a server that ends the stream cleanly as a lost connection', async () => {
    const { loop, log } = harness([{ start: true }]);
    await loop.run();
    expect(log.filter((line) => line === 'retry')).toHaveLength(1);
  });

  it('returns an error that is not worth retrying, without opening another connection', async () => {
    const fatal = new KoyoSlotError('SLOT_NOT_FOUND', 'no slot');
    const { loop, log } = harness([{ start: false, error: fatal }, { start: true }]);
    await expect(loop.run()).resolves.toBe(fatal);
    expect(log).toEqual(['run 1', 'end', 'close']);
  });

  it('gives up with RECONNECT_FAILED after maxAttempts failures in a row', async () => {
    const { loop } = harness(
      [
        { start: false, error: lost() },
        { start: false, error: lost() },
        { start: false, error: lost() },
      ],
      { reconnect: { initialDelayMs: 1, maxDelayMs: 1, maxAttempts: 2 } },
    );
    const error = await loop.run();
    expect(error).toMatchObject({ code: 'RECONNECT_FAILED' });
    expect(error?.message).toContain('after 2 attempts');
    expect(error?.cause).toMatchObject({ code: 'CONNECTION_FAILED' });
  });

  it('stop cuts the backoff short and opens no new connection', async () => {
    const { loop, log } = harness([{ start: true, error: lost() }], {
      reconnect: { initialDelayMs: 3_600_000, maxDelayMs: 3_600_000, maxAttempts: 5 },
      beforeRetry: () => {
        log.push('retry');
        setImmediate(() => loop.stop());
      },
    });
    await expect(loop.run()).resolves.toBeUndefined();
    expect(loop.stopping).toBe(true);
    expect(log).toEqual(['run 1', 'start reconnect=false attempt=0', 'end', 'close', 'retry']);
  });

  it('a loop stopped before it runs opens nothing', async () => {
    const { loop, log } = harness([{ start: true }]);
    loop.stop();
    await expect(loop.run()).resolves.toBeUndefined();
    expect(log).toEqual([]);
  });
});

describe('classifyConnectionError', () => {
  const missing = Object.assign(new Error('publication "gone" does not exist'), { code: '42704' });
  const context = { slot: 'koyo', publications: ['gone'], confirmedLsn: '0/10' };

  it('retries a missing publication before the stream ever ran, as classifyError says', () => {
    expect(classifyConnectionError(missing, false, context)).toEqual(
      classifyError(missing, context),
    );
  });

  it('makes a publication missing after the stream ran final (dropped under it)', () => {
    const { retry, error } = classifyConnectionError(missing, true, context);
    expect(retry).toBe(false);
    expect(error.code).toBe('PUBLICATION_MISSING');
    expect(error.message).toContain('0/10');
  });
});
