// checkNats (what `koyo doctor` runs): real nats-servers, with and without JetStream, and
// streams that fit the relay or do not. It changes nothing: a missing stream stays missing.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { findNatsServer, startNats, type NatsServer } from '@koyo/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNats, KoyoNatsError } from '../src/index.js';
import { addStream, uniqueName, waitFor } from './helpers.js';

let nats: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.close();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const byId = (checks: Awaited<ReturnType<typeof checkNats>>) =>
  Object.fromEntries(checks.map((check) => [check.id, check]));

describe('checkNats', () => {
  it('passes on a server with JetStream and no stream yet, and creates nothing', async () => {
    const stream = uniqueName('DOC');
    const checks = byId(
      await checkNats({ servers: nats.url, stream, subjectPrefix: stream.toLowerCase() }),
    );
    expect(checks.nats).toMatchObject({ ok: true });
    expect(checks.jetstream).toMatchObject({ ok: true });
    expect(checks.nats_stream).toMatchObject({ ok: true });
    expect(checks.nats_stream!.message).toContain('does not exist yet');
    const names: string[] = [];
    for await (const name of (await jetstreamManager(nc)).streams.names()) names.push(name);
    expect(names).not.toContain(stream);
  });

  it('reports a stream with the wrong subjects, memory storage or a short window, with the fix', async () => {
    const good = await addStream(nc, 'GOOD', 'good', { storage: 'file', windowMs: 120_000 });
    expect(
      byId(await checkNats({ servers: nats.url, stream: good, subjectPrefix: 'good' })).nats_stream,
    ).toMatchObject({ ok: true, fix: null });

    const short = await addStream(nc, 'SHORT', 'short', { storage: 'file', windowMs: 1000 });
    const window = byId(
      await checkNats({ servers: nats.url, stream: short, subjectPrefix: 'short' }),
    ).nats_stream!;
    expect(window).toMatchObject({ ok: false, severity: 'error' });
    expect(window.message).toContain('de-duplicates over 1000 ms');
    expect(window.fix).toContain(`nats stream edit ${short} --dupe-window 120s`);

    const memory = await addStream(nc, 'MEMORY', 'memory', {
      storage: 'memory',
      windowMs: 120_000,
    });
    const storage = byId(
      await checkNats({ servers: nats.url, stream: memory, subjectPrefix: 'memory' }),
    ).nats_stream!;
    expect(storage).toMatchObject({ ok: false });
    expect(storage.message).toContain('memory storage');

    // The relay's prefix is not what the stream captures.
    const subjects = byId(
      await checkNats({ servers: nats.url, stream: good, subjectPrefix: 'other' }),
    ).nats_stream!;
    expect(subjects).toMatchObject({ ok: false });
    expect(subjects.fix).toContain("add 'other.>' to its subjects");

    // Missing, but another stream already captures the prefix: the relay could not create it.
    const taken = byId(
      await checkNats({ servers: nats.url, stream: uniqueName('NEW'), subjectPrefix: 'good' }),
    ).nats_stream!;
    expect(taken).toMatchObject({ ok: false });
    expect(taken.message).toContain(`${good} already capture(s) 'good.>'`);
  });

  it('reports an unreachable server and one without JetStream', async () => {
    const port = await freePort();
    const down = byId(await checkNats({ servers: `nats://127.0.0.1:${port}`, timeoutMs: 2000 }));
    expect(Object.keys(down)).toEqual(['nats']);
    expect(down.nats).toMatchObject({ ok: false, severity: 'error' });
    expect(down.nats!.fix).toContain('nats-server -js');

    const binary = findNatsServer();
    if (!binary) throw new Error('no nats-server binary');
    const plainPort = await freePort();
    const plain: ChildProcess = spawn(binary, ['-a', '127.0.0.1', '-p', String(plainPort)], {
      stdio: 'ignore',
    });
    try {
      let checks: Record<string, { ok: boolean; fix: string | null }> = {};
      await waitFor(
        async () => {
          checks = byId(
            await checkNats({ servers: `nats://127.0.0.1:${plainPort}`, timeoutMs: 2000 }),
          );
          return checks.nats?.ok === true;
        },
        'the server without JetStream to accept connections',
        20_000,
        100,
      );
      expect(checks.jetstream).toMatchObject({ ok: false });
      expect(checks.jetstream!.fix).toContain('nats-server -js');
      expect(checks.nats_stream).toBeUndefined();
    } finally {
      plain.kill('SIGTERM');
    }
  });

  it('refuses hostile names as the relay does', async () => {
    await expect(checkNats({ servers: nats.url, stream: 'a.b' })).rejects.toBeInstanceOf(
      KoyoNatsError,
    );
    await expect(checkNats({ servers: nats.url, subjectPrefix: 'a.>' })).rejects.toMatchObject({
      code: 'INVALID_NAME',
    });
  });
});
