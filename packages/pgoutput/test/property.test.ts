// Property tests: truncated, mutated and garbage versions of real payloads only ever yield a
// PgoutputDecodeError, and a decoder that threw decodes the rest of its session as if nothing happened.
import fc from 'fast-check';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PgoutputDecodeError,
  PgoutputDecoder,
  type DecoderOptions,
  type PgoutputMessage,
} from '../src/index.js';
import { connect, decodeAll, forceStreaming, peek, serverMajor, withSlot } from './_support.js';

interface Session {
  name: string;
  options: DecoderOptions;
  payloads: Buffer[];
  decoded: PgoutputMessage[];
}

const CODES = new Set([
  'TRUNCATED',
  'TRAILING_BYTES',
  'UNKNOWN_MESSAGE',
  'UNSUPPORTED_MESSAGE',
  'UNKNOWN_RELATION',
  'INVALID_MESSAGE',
  'INVALID_VALUE',
]);

let db: TestDatabase;
let client: pg.Client;
const sessions: Session[] = [];

beforeAll(async () => {
  db = await createTestDatabase('pgoutput_property');
  client = await connect(db.url);
  const major = await serverMajor(client);
  const origin = `koyo_prop_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  await client.query(`
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE TABLE t (id int PRIMARY KEY, n numeric, j jsonb, ts timestamptz, d date, a int[], m mood, b bytea, body text, f float4);
    ALTER TABLE t ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE TABLE f (id int, v text);
    ALTER TABLE f REPLICA IDENTITY FULL;
    CREATE PUBLICATION p FOR TABLE t, f;
  `);
  await withSlot(client, false, (slot) =>
    withSlot(client, true, async (twoPhaseSlot) => {
      await client.query(`INSERT INTO t SELECT g, g * 1.5, jsonb_build_object('g', g, 'a', ARRAY[g, NULL]), '2024-01-01'::timestamptz + g * interval '1 hour',
      '2024-01-01'::date + g, ARRAY[g, g + 1], 'happy', '\\x00ff', CASE WHEN g = 1 THEN repeat(md5('x'), 100) END, g / 3.0 FROM generate_series(1, 5) g`);
      await client.query(
        `UPDATE t SET n = 0 WHERE id = 1; UPDATE t SET id = 10 WHERE id = 2; DELETE FROM t WHERE id = 3`,
      );
      await client.query(`INSERT INTO f VALUES (1, 'a'); UPDATE f SET v = 'b'; DELETE FROM f`);
      await client.query(`TRUNCATE t, f RESTART IDENTITY`);
      await client.query(
        `SELECT pg_logical_emit_message(false, 'p', 'non-transactional'); BEGIN; INSERT INTO f VALUES (2, 'x'); SELECT pg_logical_emit_message(true, 'p', 'transactional'); COMMIT`,
      );
      await client.query(
        `SELECT pg_replication_origin_create($1); SELECT pg_replication_origin_session_setup($1)`.replaceAll(
          '$1',
          `'${origin}'`,
        ),
      );
      await client.query(
        `BEGIN; SELECT pg_replication_origin_xact_setup('0/1', now()); INSERT INTO f VALUES (3, 'o'); COMMIT`,
      );
      await client.query(
        `SELECT pg_replication_origin_session_reset(); SELECT pg_replication_origin_drop('${origin}')`,
      );
      await client.query(`BEGIN; INSERT INTO t (id, body) SELECT g, repeat('y', 1000) FROM generate_series(100, 200) g; SAVEPOINT s;
      INSERT INTO t (id, body) SELECT g, repeat('z', 1000) FROM generate_series(300, 400) g; ROLLBACK TO SAVEPOINT s; COMMIT`);
      await client.query(`BEGIN; INSERT INTO t (id, j) VALUES (500, '[1]'); INSERT INTO t (id, body) SELECT g, repeat('p', 1000) FROM generate_series(600, 700) g;
      PREPARE TRANSACTION 'prop-${slot}'`);
      await client.query(`COMMIT PREPARED 'prop-${slot}'`);
      await client.query(
        `BEGIN; INSERT INTO t (id) VALUES (501); PREPARE TRANSACTION 'prop2-${slot}'`,
      );
      await client.query(`ROLLBACK PREPARED 'prop2-${slot}'`);
      await client.query(
        `BEGIN; INSERT INTO t (id) VALUES (502); ROLLBACK; CREATE TABLE flushed (); DROP TABLE flushed`,
      );

      const add = async (
        name: string,
        target: string,
        peekOptions: Record<string, string>,
        options: DecoderOptions,
      ): Promise<void> => {
        const payloads = (
          await peek(client, target, { publication_names: 'p', messages: 'true', ...peekOptions })
        ).map((c) => c.data);
        sessions.push({
          name,
          options,
          payloads,
          decoded: decodeAll(
            payloads.map((data) => ({ data, lsn: 0n, xid: 0 })),
            options,
          ),
        });
      };
      await add('v1 text', slot, { proto_version: '1' }, { protocolVersion: 1 });
      await add(
        'v1 binary',
        slot,
        { proto_version: '1', binary: 'true' },
        { protocolVersion: 1, binary: true },
      );
      await add(
        'v1 parse false',
        slot,
        { proto_version: '1' },
        { protocolVersion: 1, parse: false },
      );
      await add(
        'v3 two-phase',
        twoPhaseSlot,
        { proto_version: '3', two_phase: 'on' },
        { protocolVersion: 3 },
      );
      await forceStreaming(client, major);
      await add(
        'v2 streaming',
        slot,
        { proto_version: '2', streaming: 'on' },
        { protocolVersion: 2 },
      );
      await add(
        'v3 streaming two-phase',
        twoPhaseSlot,
        { proto_version: '3', streaming: 'on', two_phase: 'on' },
        { protocolVersion: 3 },
      );
      if (major >= 16)
        await add(
          'v4 parallel',
          slot,
          { proto_version: '4', streaming: 'parallel' },
          { protocolVersion: 4 },
        );
    }),
  );
});
afterAll(async () => {
  await client.end();
  await db.drop();
});

const STATEFUL = new Set(['relation', 'type', 'stream_start', 'stream_stop']);

/**
 * A decoder in the state it has after the first `index` messages of `session`: only Relation,
 * Type, Stream Start and Stream Stop change a decoder's state, so only those are replayed.
 */
function primed(session: Session, index: number): PgoutputDecoder {
  const decoder = new PgoutputDecoder(session.options);
  for (let i = 0; i < index; i++)
    if (STATEFUL.has(session.decoded[i]!.tag)) decoder.decode(session.payloads[i]!);
  return decoder;
}

/** Decodes `payload` and returns the error, if any; anything but a PgoutputDecodeError fails the test. */
function attempt(decoder: PgoutputDecoder, payload: Uint8Array): PgoutputDecodeError | undefined {
  try {
    decoder.decode(payload);
    return undefined;
  } catch (error) {
    if (!(error instanceof PgoutputDecodeError))
      throw new Error(`Not a PgoutputDecodeError: ${String(error)}`, { cause: error });
    expect(CODES.has(error.code), error.code).toBe(true);
    expect(error.name).toBe('PgoutputDecodeError');
    expect(error.offset).toBeGreaterThanOrEqual(0);
    expect(error.offset).toBeLessThanOrEqual(payload.length);
    return error;
  }
}

/** After an error, the decoder decodes the rest of the session exactly like a decoder that never saw the bad payload. */
function continues(session: Session, decoder: PgoutputDecoder, index: number): void {
  const end = Math.min(session.payloads.length, index + 10);
  for (let i = index; i < end; i++)
    expect(decoder.decode(session.payloads[i]!)).toEqual(session.decoded[i]);
}

// Positions in the first 300 messages of a session (later ones repeat the same kinds), which
// keeps priming a decoder cheap.
const position = fc.record({ session: fc.nat(), index: fc.nat() }).map(({ session, index }) => {
  const s = sessions[session % sessions.length]!;
  return { session: s, index: index % Math.min(300, s.payloads.length) };
});

describe('malformed payloads', () => {
  it('captured a corpus with every message kind', () => {
    const kinds = new Set(sessions.flatMap((s) => s.decoded.map((m) => m.tag)));
    const expected = [
      'begin',
      'commit',
      'origin',
      'relation',
      'type',
      'insert',
      'update',
      'delete',
      'truncate',
      'message',
    ];
    expected.push(
      'stream_start',
      'stream_stop',
      'stream_commit',
      'stream_abort',
      'begin_prepare',
      'prepare',
      'commit_prepared',
      'rollback_prepared',
      'stream_prepare',
    );
    expect([...kinds].sort()).toEqual(expected.sort());
  });

  it('truncation yields only PgoutputDecodeError (TRUNCATED) and the decoder stays usable', () => {
    fc.assert(
      fc.property(position, fc.nat(), ({ session, index }, cut) => {
        const payload = session.payloads[index]!;
        const length = cut % payload.length;
        const decoder = primed(session, index);
        const error = attempt(decoder, payload.subarray(0, length));
        // Every byte of a pgoutput message is needed, except after a stream abort's xids (protocol 4 'on' vs 'parallel').
        if (session.decoded[index]!.tag !== 'stream_abort')
          expect(error?.code).toMatch(/TRUNCATED|UNKNOWN_MESSAGE|INVALID_MESSAGE/);
        if (error) continues(session, decoder, index);
      }),
      { numRuns: 400, endOnFailure: true },
    );
  });

  it('byte mutations yield only PgoutputDecodeError, and a decoder that threw stays usable', () => {
    fc.assert(
      fc.property(
        position,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        ({ session, index }, edits) => {
          const payload = Buffer.from(session.payloads[index]!);
          for (const [at, value] of edits) payload[at % payload.length] = value;
          const decoder = primed(session, index);
          if (attempt(decoder, payload)) continues(session, decoder, index);
        },
      ),
      { numRuns: 600, endOnFailure: true },
    );
  });

  it('inserted, appended and removed bytes yield only PgoutputDecodeError', () => {
    fc.assert(
      fc.property(
        position,
        fc.nat(),
        fc.uint8Array({ minLength: 0, maxLength: 12 }),
        fc.nat({ max: 12 }),
        ({ session, index }, at, bytes, remove) => {
          const original = session.payloads[index]!;
          const cut = at % (original.length + 1);
          const payload = Buffer.concat([
            original.subarray(0, cut),
            bytes,
            original.subarray(Math.min(original.length, cut + remove)),
          ]);
          const decoder = primed(session, index);
          if (attempt(decoder, payload)) continues(session, decoder, index);
        },
      ),
      { numRuns: 400, endOnFailure: true },
    );
  });

  it('random bytes, with and without a valid tag, yield only PgoutputDecodeError', () => {
    const tagsOf = [...'BCORYIUDTMSEcAbPKrp'].map((c) => c.charCodeAt(0));
    fc.assert(
      fc.property(
        position,
        fc.constantFrom(...tagsOf),
        fc.uint8Array({ maxLength: 64 }),
        ({ session, index }, tag, rest) => {
          const decoder = primed(session, index);
          if (attempt(decoder, Uint8Array.of(tag, ...rest))) continues(session, decoder, index);
          attempt(new PgoutputDecoder(), rest);
        },
      ),
      { numRuns: 400, endOnFailure: true },
    );
  });
});
