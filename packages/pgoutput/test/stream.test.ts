// The framing helpers and the pg-logical-replication adapter on a real replication connection.
import pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  encodeStandbyStatusUpdate,
  formatLsn,
  parseCopyData,
  PG_EPOCH_UNIX_MICROS,
  PgoutputDecoder,
  UNCHANGED_TOAST,
  type PgoutputMessage,
  type PrimaryKeepalive,
  type XLogData,
} from '../src/index.js';
import { KoyoPgoutputPlugin } from '../src/pg-logical-replication.js';
import { connect, createSlot, dropSlot, serverMajor, serverMicros } from './_support.js';

let db: TestDatabase;
let admin: pg.Client;
let major: number;

beforeAll(async () => {
  db = await createTestDatabase('pgoutput_stream');
  admin = await connect(db.url);
  major = await serverMajor(admin);
  await admin.query(
    `CREATE TABLE s (id int PRIMARY KEY, v text, big text); CREATE PUBLICATION p_s FOR TABLE s`,
  );
  await admin.query(`ALTER TABLE s ALTER COLUMN big SET STORAGE EXTERNAL`);
});
afterAll(async () => {
  await admin.end();
  await db.drop();
});

interface ConnectionWithCopy {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Uint8Array): void;
}

describe('replication framing on a real walsender', () => {
  it('parses XLogData and keepalives, and moves confirmed_flush_lsn with a status update', async () => {
    const slot = await createSlot(admin);
    const replication = new pg.Client({
      connectionString: db.url,
      replication: 'database',
    } as pg.ClientConfig);
    await replication.connect();
    const connection = (replication as unknown as { connection: ConnectionWithCopy }).connection;
    const frames: (XLogData | PrimaryKeepalive)[] = [];
    const messages: PgoutputMessage[] = [];
    const decoder = new PgoutputDecoder({ protocolVersion: 1 });
    connection.on('copyData', ({ chunk }) => {
      const frame = parseCopyData(chunk);
      frames.push(
        frame.tag === 'xlogdata' ? { ...frame, payload: Buffer.from(frame.payload) } : frame,
      );
      if (frame.tag === 'xlogdata') messages.push(decoder.decode(frame.payload));
    });
    const before = await serverMicros(admin);
    const streaming = replication
      .query(
        `START_REPLICATION SLOT "${slot}" LOGICAL 0/0 (proto_version '1', publication_names 'p_s')`,
      )
      .catch(() => undefined);
    try {
      await admin.query(`INSERT INTO s VALUES (1, 'a')`);
      await vi.waitFor(
        () => expect(messages.map((m) => m.tag)).toEqual(['begin', 'relation', 'insert', 'commit']),
        { timeout: 60_000 },
      );
      const commit = messages[3] as Extract<PgoutputMessage, { tag: 'commit' }>;
      const commitFrame = frames.filter((f): f is XLogData => f.tag === 'xlogdata')[3]!;
      // The walsender stamps each message with its LSN: a commit's is its end LSN.
      expect(commitFrame.walStart).toBe(commit.endLsn);
      expect(commitFrame.walEnd).toBeGreaterThanOrEqual(commit.endLsn);
      connection.sendCopyFromChunk(
        encodeStandbyStatusUpdate({
          written: commit.endLsn,
          flushed: commit.endLsn,
          applied: commit.endLsn,
          replyRequested: true,
        }),
      );
      await vi.waitFor(() => expect(frames.some((f) => f.tag === 'keepalive')).toBe(true), {
        timeout: 60_000,
      });
      const after = await serverMicros(admin);
      // Send times count microseconds from 2000-01-01: they fall between two server clock readings.
      for (const frame of frames) {
        expect(frame.sendTime + PG_EPOCH_UNIX_MICROS).toBeGreaterThanOrEqual(before);
        expect(frame.sendTime + PG_EPOCH_UNIX_MICROS).toBeLessThanOrEqual(after);
      }
      await vi.waitFor(
        async () => {
          const { rows } = await admin.query<{ lsn: string }>(
            `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`,
            [slot],
          );
          expect(rows[0]!.lsn).toBe(formatLsn(commit.endLsn));
        },
        { timeout: 60_000 },
      );
    } finally {
      await replication.end();
      await streaming;
      await vi.waitFor(async () => dropSlot(admin, slot), { timeout: 60_000 });
    }
  });
});

describe('@koyo/pgoutput/pg-logical-replication', () => {
  it('streams protocol 3/4 streamed transactions, messages and binary values through LogicalReplicationService', async () => {
    const slot = await createSlot(admin);
    const protoVersion = major >= 16 ? 4 : 3;
    const settings =
      major >= 16
        ? '-c debug_logical_replication_streaming=immediate'
        : '-c logical_decoding_work_mem=64kB';
    const service = new LogicalReplicationService(
      { connectionString: db.url, options: settings },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    const plugin = new KoyoPgoutputPlugin({
      publicationNames: ['p_s'],
      protoVersion,
      streaming: major >= 16 ? 'parallel' : true,
      messages: true,
      binary: true,
    });
    const received: PgoutputMessage[] = [];
    const errors: unknown[] = [];
    service.on('data', (_lsn: string, message: PgoutputMessage) => {
      received.push(message);
    });
    service.on('error', (error: unknown) => {
      errors.push(error);
    });
    const subscribed = service
      .subscribe(plugin, slot)
      .catch((error: unknown) => errors.push(error));
    try {
      await vi.waitFor(() => expect(service.isStop()).toBe(false), { timeout: 60_000 });
      await admin.query(`BEGIN; INSERT INTO s SELECT g, 'row ' || g, repeat('x', 3000) FROM generate_series(10, 109) g;
        SELECT pg_logical_emit_message(true, 'koyo', 'hi'); COMMIT`);
      await admin.query(`UPDATE s SET v = 'changed' WHERE id = 10`);
      await vi.waitFor(() => expect(received.filter((m) => m.tag === 'update')).toHaveLength(1), {
        timeout: 60_000,
      });
      expect(errors).toEqual([]);
      const tags = new Set(received.map((m) => m.tag));
      expect([...tags]).toEqual(
        expect.arrayContaining([
          'stream_start',
          'relation',
          'insert',
          'message',
          'stream_stop',
          'stream_commit',
        ]),
      );
      const inserts = received.filter((m) => m.tag === 'insert');
      expect(inserts.map((m) => m.new.id)).toEqual(Array.from({ length: 100 }, (_, i) => 10 + i));
      expect(inserts[0]).toMatchObject({
        new: { id: 10, v: 'row 10', big: 'x'.repeat(3000) },
        xid: expect.any(Number),
      });
      const update = received.find((m) => m.tag === 'update')!;
      expect(update.new).toEqual({ id: 10, v: 'changed', big: UNCHANGED_TOAST });
    } finally {
      await service.stop();
      await subscribed;
      await vi.waitFor(async () => dropSlot(admin, slot), { timeout: 60_000 });
    }
  });
});
