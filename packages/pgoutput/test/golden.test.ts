// Golden tests: payloads captured from the real server (pg_logical_slot_peek_binary_changes),
// decoded, and checked against what the SQL did and what the server reports (LSNs, xids, clock).
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  UNCHANGED_TOAST,
  type CommitMessage,
  type InsertMessage,
  type PgoutputMessage,
  type RelationMessage,
  type StreamAbortMessage,
} from '../src/index.js';
import {
  connect,
  createSlot,
  decodeAll,
  dropSlot,
  forceStreaming,
  peek,
  serverMajor,
  serverMicros,
  STREAM_ROWS,
  tags,
  type Captured,
} from './_support.js';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
/** 3200 characters of incompressible-ish text, stored out of line (STORAGE EXTERNAL). */
const BODY = Array.from({ length: 100 }, (_, i) => md5(String(i + 1))).join('');

let db: TestDatabase;
let major: number;

beforeAll(async () => {
  db = await createTestDatabase('pgoutput_golden');
  const client = await connect(db.url);
  try {
    major = await serverMajor(client);
  } finally {
    await client.end();
  }
});
afterAll(async () => {
  await db.drop();
});

/** One message as a compact, readable line (values included for changes). */
function line(message: PgoutputMessage): unknown {
  switch (message.tag) {
    case 'relation':
      return `relation ${message.schema}.${message.name} ${message.replicaIdentity} ${message.columns.map((c) => `${c.name}${c.isKey ? '*' : ''}`).join(',')}`;
    case 'type':
      return `type ${message.schema}.${message.name}`;
    case 'insert':
      return ['insert', message.relation.name, message.new];
    case 'update':
      return ['update', message.relation.name, message.key, message.old, message.new];
    case 'delete':
      return ['delete', message.relation.name, message.key, message.old];
    case 'truncate':
      return [
        'truncate',
        message.relations.map((r) => r.name).sort(),
        message.cascade,
        message.restartIdentity,
      ];
    case 'message':
      return [
        'message',
        message.transactional,
        message.prefix,
        Buffer.from(message.content).toString('hex'),
      ];
    case 'origin':
      return ['origin', message.name, message.lsn];
    default:
      return message.tag;
  }
}

describe('transactions, identities, TOAST, truncate, messages, origins (protocol 1-4 without streaming)', () => {
  let client: pg.Client;
  let slot: string;
  let origin: string;
  let before: bigint;
  let after: bigint;

  beforeAll(async () => {
    client = await connect(db.url);
    origin = `koyo_origin_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
    await client.query(`
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TABLE items (id int PRIMARY KEY, name text, mood mood, body text);
      ALTER TABLE items ALTER COLUMN body SET STORAGE EXTERNAL;
      CREATE TABLE full_t (id int, v text);
      ALTER TABLE full_t REPLICA IDENTITY FULL;
      CREATE TABLE idx_t (a int NOT NULL, b int NOT NULL, c text);
      CREATE UNIQUE INDEX idx_t_ab ON idx_t (a, b);
      ALTER TABLE idx_t REPLICA IDENTITY USING INDEX idx_t_ab;
      CREATE TABLE nokey (v text);
      CREATE TABLE nothing_t (id int PRIMARY KEY, v text);
      ALTER TABLE nothing_t REPLICA IDENTITY NOTHING;
      CREATE TABLE parent (id int PRIMARY KEY);
      CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent (id));
      CREATE PUBLICATION p_all FOR TABLE items, full_t, idx_t, parent, child;
      CREATE PUBLICATION p_ins FOR TABLE nokey, nothing_t WITH (publish = 'insert');
    `);
    slot = await createSlot(client);
    before = await serverMicros(client);
    await client.query(`INSERT INTO items VALUES (1, 'a', 'happy', $1)`, [BODY]);
    await client.query(`UPDATE items SET name = 'b' WHERE id = 1`);
    await client.query(`UPDATE items SET id = 2 WHERE id = 1`);
    await client.query(`DELETE FROM items WHERE id = 2`);
    await client.query(
      `INSERT INTO full_t VALUES (1, 'x'); UPDATE full_t SET v = 'y'; DELETE FROM full_t`,
    );
    await client.query(`INSERT INTO idx_t VALUES (1, 2, 'c')`);
    await client.query(`UPDATE idx_t SET c = 'd'`);
    await client.query(`UPDATE idx_t SET b = 3`);
    await client.query(`DELETE FROM idx_t`);
    await client.query(`INSERT INTO nokey VALUES ('n'); INSERT INTO nothing_t VALUES (1, 'z')`);
    await client.query(`ALTER TABLE items ADD COLUMN extra int DEFAULT 7`);
    await client.query(`INSERT INTO items (id, name) VALUES (3, 'c')`);
    await client.query(
      `BEGIN; INSERT INTO items (id, extra) VALUES (4, 8); ALTER TABLE items DROP COLUMN extra; INSERT INTO items (id) VALUES (5); COMMIT`,
    );
    await client.query(
      `BEGIN; INSERT INTO items (id) VALUES (10); SAVEPOINT s; INSERT INTO items (id) VALUES (11); ROLLBACK TO SAVEPOINT s; INSERT INTO items (id) VALUES (12); COMMIT`,
    );
    await client.query(`BEGIN; INSERT INTO items (id) VALUES (20); ROLLBACK`);
    await client.query(`CREATE TABLE flushed (); DROP TABLE flushed`);
    await client.query(`INSERT INTO parent VALUES (1); INSERT INTO child (parent_id) VALUES (1)`);
    await client.query(`TRUNCATE parent, child RESTART IDENTITY CASCADE`);
    await client.query(`TRUNCATE full_t`);
    await client.query(`SELECT pg_logical_emit_message(false, 'koyo', 'hello')`);
    await client.query(
      `BEGIN; INSERT INTO items (id) VALUES (30); SELECT pg_logical_emit_message(true, 'koyo/bin', '\\x00ff'::bytea); COMMIT`,
    );
    await client.query(`SELECT pg_replication_origin_create($1)`, [origin]);
    await client.query(`SELECT pg_replication_origin_session_setup($1)`, [origin]);
    await client.query(
      `BEGIN; SELECT pg_replication_origin_xact_setup('1/ABCDEF', now()); INSERT INTO items (id) VALUES (40); COMMIT`,
    );
    await client.query(`SELECT pg_replication_origin_session_reset()`);
    after = await serverMicros(client);
  });
  afterAll(async () => {
    await client.query(`SELECT pg_replication_origin_drop($1)`, [origin]);
    await dropSlot(client, slot);
    await client.end();
  });

  const items = (id: number, extra?: number): Record<string, unknown> => ({
    id,
    name: null,
    mood: null,
    body: null,
    ...(extra === undefined ? {} : { extra }),
  });

  function expected(withMessages: boolean, withOrigin: boolean): unknown[] {
    return [
      'begin',
      ['insert', 'items', { id: 1, name: 'a', mood: 'happy', body: BODY }],
      'commit',
      'begin',
      ['update', 'items', null, null, { id: 1, name: 'b', mood: 'happy', body: UNCHANGED_TOAST }],
      'commit',
      'begin',
      [
        'update',
        'items',
        { id: 1 },
        null,
        { id: 2, name: 'b', mood: 'happy', body: UNCHANGED_TOAST },
      ],
      'commit',
      'begin',
      ['delete', 'items', { id: 2 }, null],
      'commit',
      'begin',
      ['insert', 'full_t', { id: 1, v: 'x' }],
      ['update', 'full_t', null, { id: 1, v: 'x' }, { id: 1, v: 'y' }],
      ['delete', 'full_t', null, { id: 1, v: 'y' }],
      'commit',
      'begin',
      ['insert', 'idx_t', { a: 1, b: 2, c: 'c' }],
      'commit',
      'begin',
      ['update', 'idx_t', null, null, { a: 1, b: 2, c: 'd' }],
      'commit',
      'begin',
      ['update', 'idx_t', { a: 1, b: 2 }, null, { a: 1, b: 3, c: 'd' }],
      'commit',
      'begin',
      ['delete', 'idx_t', { a: 1, b: 3 }, null],
      'commit',
      'begin',
      ['insert', 'nokey', { v: 'n' }],
      ['insert', 'nothing_t', { id: 1, v: 'z' }],
      'commit',
      'begin',
      ['insert', 'items', { ...items(3, 7), name: 'c' }],
      'commit',
      'begin',
      ['insert', 'items', items(4, 8)],
      ['insert', 'items', items(5)],
      'commit',
      'begin',
      ['insert', 'items', items(10)],
      ['insert', 'items', items(12)],
      'commit',
      'begin',
      ['insert', 'parent', { id: 1 }],
      ['insert', 'child', { id: 1, parent_id: 1 }],
      'commit',
      'begin',
      ['truncate', ['child', 'parent'], true, true],
      'commit',
      'begin',
      ['truncate', ['full_t'], false, false],
      'commit',
      ...(withMessages ? [['message', false, 'koyo', Buffer.from('hello').toString('hex')]] : []),
      'begin',
      ['insert', 'items', items(30)],
      ...(withMessages ? [['message', true, 'koyo/bin', '00ff']] : []),
      'commit',
      ...(withOrigin
        ? ['begin', ['origin', origin, 0x1_00ab_cdefn], ['insert', 'items', items(40)], 'commit']
        : []),
    ];
  }

  /** The session without Relation and Type messages (the server re-sends those after invalidations). */
  function changes(messages: PgoutputMessage[]): unknown[] {
    return messages.filter((m) => m.tag !== 'relation' && m.tag !== 'type').map(line);
  }

  /** Every change refers to the last Relation message for its OID, which precedes it; types precede their relations. */
  function checkRelations(messages: PgoutputMessage[]): void {
    const latest = new Map<number, RelationMessage>();
    const types = new Set<number>();
    const seen = new Set<unknown>();
    for (const message of messages) {
      if (message.tag === 'type') types.add(message.oid);
      if (message.tag === 'relation') {
        latest.set(message.oid, message);
        seen.add(line(message));
        for (const column of message.columns)
          if (column.typeOid >= 16384) expect(types).toContain(column.typeOid);
      }
      if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete') {
        expect(message.relation).toBe(latest.get(message.relation.oid));
      }
      if (message.tag === 'truncate')
        for (const relation of message.relations) expect(relation).toBe(latest.get(relation.oid));
    }
    expect([...seen].sort()).toEqual([
      'relation public.child default id*,parent_id',
      'relation public.full_t full id*,v*',
      'relation public.idx_t index a*,b*,c',
      'relation public.items default id*,name,mood,body',
      'relation public.items default id*,name,mood,body,extra',
      'relation public.nokey default v',
      'relation public.nothing_t nothing id,v',
      'relation public.parent default id*',
    ]);
  }

  function checkTransactions(captured: Captured[], messages: PgoutputMessage[]): void {
    let begin: Extract<PgoutputMessage, { tag: 'begin' }> | undefined;
    let commits = 0;
    for (const [i, message] of messages.entries()) {
      if (message.tag === 'begin') {
        begin = message;
        expect(message.xid).toBe(captured[i]!.xid);
        expect(message.commitTimeMicros).toBeGreaterThanOrEqual(before);
        expect(message.commitTimeMicros).toBeLessThanOrEqual(after);
        expect(message.commitTime.getTime()).toBe(Number(message.commitTimeMicros / 1000n));
      }
      if (message.tag === 'commit') {
        commits++;
        const commit: CommitMessage = message;
        // The SQL interface reports a commit at its end LSN; the Begin announced the commit LSN.
        expect(commit.endLsn).toBe(captured[i]!.lsn);
        expect(commit.commitLsn).toBe(begin!.finalLsn);
        expect(commit.commitLsn).toBeLessThan(commit.endLsn);
        expect(commit.commitTimeMicros).toBe(begin!.commitTimeMicros);
        expect(commit.flags).toBe(0);
      }
    }
    expect(commits).toBeGreaterThan(10);
  }

  it.each([1, 2, 3, 4] as const)(
    'decodes protocol %i text values, with messages and origins',
    async (version) => {
      const options = {
        proto_version: String(version),
        publication_names: 'p_all,p_ins',
        messages: 'true',
      };
      if (version > (major >= 16 ? 4 : major >= 15 ? 3 : 2)) {
        await expect(peek(client, slot, options)).rejects.toThrow(/proto_version/);
        return;
      }
      const captured = await peek(client, slot, options);
      const messages = decodeAll(captured, { protocolVersion: version });
      expect(changes(messages)).toEqual(expected(true, true));
      checkRelations(messages);
      checkTransactions(captured, messages);
      const origins = messages.filter((m) => m.tag === 'origin');
      expect(origins).toHaveLength(1);
      const message = messages.find((m) => m.tag === 'message' && m.transactional);
      expect(message).toMatchObject({ tag: 'message', xid: undefined });
    },
  );

  it('decodes protocol 1 binary values to the same rows as text values', async () => {
    const base = { proto_version: '1', publication_names: 'p_all,p_ins', messages: 'true' };
    const text = decodeAll(await peek(client, slot, base), { protocolVersion: 1 });
    const binaryCaptured = await peek(client, slot, { ...base, binary: 'true' });
    // Binary mode really is binary on the wire: the first insert's id is a 4-byte int ('b', length 4).
    const firstInsert = binaryCaptured.find((c) => c.data[0] === 0x49)!;
    expect([...firstInsert.data.subarray(8, 13)]).toEqual([0x62, 0, 0, 0, 4]);
    const binary = decodeAll(binaryCaptured, { protocolVersion: 1, binary: true });
    // The enum column has no builtin binary decoder: bytes of its label.
    const mood = (binary.find((m) => m.tag === 'insert') as InsertMessage).new.mood;
    expect(mood).toEqual(Buffer.from('happy'));
    // The enum (mood) becomes its label's bytes, everything else the same JSON as in text mode.
    const normalise = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value, (key, v: unknown) => {
          if (typeof v === 'bigint') return String(v);
          if (v === UNCHANGED_TOAST) return 'UNCHANGED';
          if (key === 'mood' && (v as { type?: string } | null)?.type === 'Buffer')
            return Buffer.from((v as { data: number[] }).data).toString();
          return v;
        }),
      );
    expect(normalise(binary.map(line))).toEqual(normalise(text.map(line)));
  });

  it('leaves logical messages out unless messages is on', async () => {
    const captured = await peek(client, slot, {
      proto_version: '1',
      publication_names: 'p_all,p_ins',
    });
    expect(changes(decodeAll(captured, { protocolVersion: 1 }))).toEqual(expected(false, true));
  });

  it("skips transactions from other origins with origin 'none' (PostgreSQL 16+)", async () => {
    const options = {
      proto_version: major >= 16 ? '4' : '3',
      publication_names: 'p_all,p_ins',
      messages: 'true',
      origin: 'none',
    };
    if (major < 16) {
      await expect(peek(client, slot, options)).rejects.toThrow(/origin/);
      return;
    }
    const messages = decodeAll(await peek(client, slot, options), { protocolVersion: 4 });
    expect(changes(messages)).toEqual(expected(true, false));
    expect(tags(messages)).not.toContain('origin');
  });

  it('keeps one relation per OID in the cache and resets it', async () => {
    const captured = await peek(client, slot, {
      proto_version: '1',
      publication_names: 'p_all,p_ins',
    });
    const decoded = decodeAll(captured.slice(0, 3), { protocolVersion: 1 });
    const relation = decoded[2] as RelationMessage;
    expect(relation.columns.map((c) => [c.name, c.typeOid, c.typeMod, c.isKey, c.flags])).toEqual([
      ['id', 23, -1, true, 1],
      ['name', 25, -1, false, 0],
      ['mood', (decoded[1] as { oid: number }).oid, -1, false, 0],
      ['body', 25, -1, false, 0],
    ]);
    const { rows } = await client.query<{ oid: number }>(`SELECT 'items'::regclass::oid AS oid`);
    expect(relation.oid).toBe(rows[0]!.oid);
  });
});

describe('streamed transactions (protocol 2+, streaming on/parallel)', () => {
  let client: pg.Client;
  let slot: string;
  let before: bigint;
  let after: bigint;

  beforeAll(async () => {
    client = await connect(db.url);
    await client.query(
      `CREATE TABLE big (id int PRIMARY KEY, v text); CREATE PUBLICATION p_big FOR TABLE big`,
    );
    slot = await createSlot(client);
    before = await serverMicros(client);
    const rows = (from: number): string =>
      `SELECT g, 'value ' || g FROM generate_series(${from}, ${from + STREAM_ROWS - 1}) g`;
    await client.query(
      `BEGIN; INSERT INTO big ${rows(1)}; SELECT pg_logical_emit_message(true, 'koyo', 'in-stream'); COMMIT`,
    );
    await client.query(
      `BEGIN; INSERT INTO big ${rows(10001)}; SAVEPOINT s; INSERT INTO big ${rows(20001)}; ROLLBACK TO SAVEPOINT s; INSERT INTO big VALUES (30001, 'last'); COMMIT`,
    );
    await client.query(`BEGIN; INSERT INTO big ${rows(40001)}; ROLLBACK`);
    // An abort record is not flushed at once; a commit that wrote WAL flushes it, so every peek sees it.
    await client.query(`CREATE TABLE flushed (); DROP TABLE flushed`);
    after = await serverMicros(client);
    await forceStreaming(client, major);
  });
  afterAll(async () => {
    await dropSlot(client, slot);
    await client.end();
  });

  function checkStreams(
    captured: Captured[],
    messages: PgoutputMessage[],
    parallel: boolean,
  ): void {
    // Group the stream blocks by top-level xid.
    const topXids: number[] = [];
    let current: number | undefined;
    const inserted = new Map<number, number[]>();
    const aborts: StreamAbortMessage[] = [];
    for (const [i, message] of messages.entries()) {
      switch (message.tag) {
        case 'stream_start':
          expect(current).toBeUndefined();
          current = message.xid;
          expect(message.xid).toBe(captured[i]!.xid);
          expect(message.firstSegment).toBe(!topXids.includes(message.xid));
          if (!topXids.includes(message.xid)) topXids.push(message.xid);
          break;
        case 'stream_stop':
          expect(current).toBeDefined();
          current = undefined;
          break;
        case 'insert':
        case 'relation':
        case 'message':
          expect(current).toBeDefined();
          expect(message.xid).toEqual(expect.any(Number));
          if (message.tag === 'insert') {
            const id = message.new.id as number;
            expect(message.new.v).toBe(id === 30001 ? 'last' : `value ${id}`);
            inserted.set(message.xid!, [...(inserted.get(message.xid!) ?? []), id]);
          }
          if (message.tag === 'message') {
            expect(message).toMatchObject({ transactional: true, prefix: 'koyo', xid: topXids[0] });
            expect(Buffer.from(message.content).toString()).toBe('in-stream');
          }
          break;
        case 'stream_abort':
          expect(current).toBeUndefined();
          aborts.push(message);
          if (parallel) {
            expect(message.abortLsn).toEqual(expect.any(BigInt));
            expect(message.abortTimeMicros).toBeGreaterThanOrEqual(before);
            expect(message.abortTimeMicros).toBeLessThanOrEqual(after);
          } else {
            expect(message.abortLsn).toBeUndefined();
            expect(message.abortTime).toBeUndefined();
          }
          break;
        case 'stream_commit':
          expect(current).toBeUndefined();
          expect(message.endLsn).toBe(captured[i]!.lsn);
          expect(message.commitTimeMicros).toBeGreaterThanOrEqual(before);
          expect(message.commitTimeMicros).toBeLessThanOrEqual(after);
          expect(message.commitLsn).toBeLessThan(message.endLsn);
          break;
        default:
          throw new Error(`unexpected ${message.tag} in a streamed session`);
      }
    }
    // PG16+ with immediate streaming also streams transactions without published changes (the
    // DDL that flushes the WAL): empty, committed blocks.
    const withRows = topXids.filter((xid) => inserted.has(xid));
    const empty = topXids.filter((xid) => !inserted.has(xid));
    expect(withRows).toHaveLength(3);
    expect(empty.length).toBe(major >= 16 ? empty.length : 0);
    const [first, second, third] = withRows as [number, number, number];
    const range = (from: number): number[] =>
      Array.from({ length: STREAM_ROWS }, (_, i) => from + i);
    expect(inserted.get(first)).toEqual(range(1));
    // Changes of a subtransaction carry the subtransaction's xid.
    // ROLLBACK TO SAVEPOINT keeps the savepoint: row 30001 is written by a second subtransaction.
    const sub = [...inserted.keys()].filter((xid) => !topXids.includes(xid));
    // PG16+ (immediate) streams every change; PG15 streams what exceeded logical_decoding_work_mem
    // and discards the rest of an aborted (sub)transaction: a non-empty prefix of its rows.
    const aborted = (ids: number[] | undefined, from: number): void => {
      if (major >= 16) expect(ids).toEqual(range(from));
      else expect(ids).toEqual(range(from).slice(0, Math.max(1, ids?.length ?? 0)));
    };
    expect(sub).toHaveLength(2);
    aborted(inserted.get(sub[0]!), 20001);
    expect(inserted.get(sub[1]!)).toEqual([30001]);
    expect(inserted.get(second)).toEqual(range(10001));
    aborted(inserted.get(third), 40001);
    expect(aborts.map((a) => [a.xid, a.subXid])).toEqual([
      [second, sub[0]],
      [third, third],
    ]);
    const commits = messages.filter((m) => m.tag === 'stream_commit');
    expect(commits.map((c) => c.xid)).toEqual([first, second, ...empty]);
  }

  it.each(['2', '3', '4'])("decodes protocol %s with streaming 'on'", async (version) => {
    const options = {
      proto_version: version,
      publication_names: 'p_big',
      messages: 'true',
      streaming: 'on',
    };
    if (Number(version) > (major >= 16 ? 4 : 3)) {
      await expect(peek(client, slot, options)).rejects.toThrow(/proto_version/);
      return;
    }
    const captured = await peek(client, slot, options);
    const messages = decodeAll(captured, { protocolVersion: Number(version) as 2 | 3 | 4 });
    expect(tags(messages).slice(0, 2)).toEqual(['stream_start', 'relation']);
    checkStreams(captured, messages, false);
  });

  it("decodes protocol 4 with streaming 'parallel': aborts carry their LSN and time (PostgreSQL 16+)", async () => {
    const options = {
      proto_version: '4',
      publication_names: 'p_big',
      messages: 'true',
      streaming: 'parallel',
    };
    if (major < 16) {
      await expect(peek(client, slot, options)).rejects.toThrow(/proto_version|parallel|Boolean/);
      return;
    }
    const captured = await peek(client, slot, options);
    const messages = decodeAll(captured, { protocolVersion: 4 });
    checkStreams(captured, messages, true);
  });

  it('decodes streamed binary values like text values', async () => {
    const options = { proto_version: '2', publication_names: 'p_big', streaming: 'on' };
    const text = decodeAll(await peek(client, slot, options), { protocolVersion: 2 });
    const binary = decodeAll(await peek(client, slot, { ...options, binary: 'true' }), {
      protocolVersion: 2,
    });
    expect(binary).toEqual(text);
  });

  it('refuses stream messages on a protocol 1 decoder', async () => {
    const captured = await peek(client, slot, {
      proto_version: '2',
      publication_names: 'p_big',
      streaming: 'on',
    });
    const decoder = decodeAll.bind(null, captured.slice(0, 1), { protocolVersion: 1 });
    expect(decoder).toThrow(
      expect.objectContaining({
        name: 'PgoutputDecodeError',
        code: 'UNSUPPORTED_MESSAGE',
        tag: 'stream_start',
      }),
    );
  });

  it('sends streamed transactions whole without the streaming option', async () => {
    const messages = decodeAll(
      await peek(client, slot, { proto_version: '2', publication_names: 'p_big' }),
      { protocolVersion: 2 },
    );
    expect(tags(messages).filter((t) => t !== 'insert')).toEqual([
      'begin',
      'relation',
      'commit',
      'begin',
      'commit',
    ]);
    expect(messages.filter((m) => m.tag === 'insert')).toHaveLength(2 * STREAM_ROWS + 1);
  });
});

describe('two-phase transactions (protocol 3+, two_phase)', () => {
  let client: pg.Client;
  let slot: string;
  let gid: string;

  beforeAll(async () => {
    client = await connect(db.url);
    await client.query(
      `CREATE TABLE tp (id int PRIMARY KEY); CREATE PUBLICATION p_tp FOR TABLE tp`,
    );
    slot = await createSlot(client, true);
    gid = `koyo-${slot}`;
    await client.query(`BEGIN; INSERT INTO tp VALUES (1); PREPARE TRANSACTION '${gid}-1'`);
    await client.query(`COMMIT PREPARED '${gid}-1'`);
    await client.query(`BEGIN; INSERT INTO tp VALUES (2); PREPARE TRANSACTION '${gid}-2'`);
    await client.query(`ROLLBACK PREPARED '${gid}-2'`);
    await client.query(
      `BEGIN; INSERT INTO tp SELECT g FROM generate_series(1001, ${1000 + STREAM_ROWS * 3}) g; PREPARE TRANSACTION '${gid}-3'`,
    );
    await client.query(`COMMIT PREPARED '${gid}-3'`);
  });
  afterAll(async () => {
    await dropSlot(client, slot);
    await client.end();
  });

  it('decodes begin_prepare, prepare, commit_prepared and rollback_prepared', async () => {
    await client.query(`RESET logical_decoding_work_mem; RESET ALL`);
    const captured = await peek(client, slot, {
      proto_version: '3',
      publication_names: 'p_tp',
      two_phase: 'on',
    });
    const messages = decodeAll(captured, { protocolVersion: 3 });
    const summary = messages
      .filter((m) => m.tag !== 'insert')
      .map((m) => ('gid' in m ? `${m.tag} ${m.gid}` : m.tag));
    expect(summary).toEqual([
      `begin_prepare ${gid}-1`,
      'relation',
      `prepare ${gid}-1`,
      `commit_prepared ${gid}-1`,
      `begin_prepare ${gid}-2`,
      `prepare ${gid}-2`,
      `rollback_prepared ${gid}-2`,
      `begin_prepare ${gid}-3`,
      `prepare ${gid}-3`,
      `commit_prepared ${gid}-3`,
    ]);
    const [bp, , , prepare, commit] = messages as [
      Extract<PgoutputMessage, { tag: 'begin_prepare' }>,
      unknown,
      unknown,
      Extract<PgoutputMessage, { tag: 'prepare' }>,
      Extract<PgoutputMessage, { tag: 'commit_prepared' }>,
    ];
    expect(messages[2]).toMatchObject({ tag: 'insert', new: { id: 1 } });
    expect(bp.xid).toBe(captured[0]!.xid);
    expect(prepare).toMatchObject({
      xid: bp.xid,
      prepareLsn: bp.prepareLsn,
      endLsn: bp.endLsn,
      prepareTimeMicros: bp.prepareTimeMicros,
      flags: 0,
    });
    expect(prepare.endLsn).toBe(captured[3]!.lsn);
    expect(commit.xid).toBe(bp.xid);
    expect(commit.commitLsn).toBeGreaterThanOrEqual(prepare.endLsn);
    expect(commit.endLsn).toBe(captured[4]!.lsn);
    expect(commit.commitTimeMicros).toBeGreaterThanOrEqual(prepare.prepareTimeMicros);
    const rollback = messages.find((m) => m.tag === 'rollback_prepared')!;
    const prepare2 = messages.filter((m) => m.tag === 'prepare')[1]!;
    expect(rollback).toMatchObject({
      prepareEndLsn: prepare2.endLsn,
      prepareTimeMicros: prepare2.prepareTimeMicros,
      xid: prepare2.xid,
    });
    expect(rollback.rollbackEndLsn).toBeGreaterThan(rollback.prepareEndLsn);
    expect(rollback.rollbackTimeMicros).toBeGreaterThanOrEqual(rollback.prepareTimeMicros);
    expect(messages.filter((m) => m.tag === 'insert')).toHaveLength(2 + STREAM_ROWS * 3);
  });

  it('decodes stream_prepare for a streamed prepared transaction', async () => {
    await forceStreaming(client, major);
    const captured = await peek(client, slot, {
      proto_version: '3',
      publication_names: 'p_tp',
      two_phase: 'on',
      streaming: 'on',
    });
    const messages = decodeAll(captured, { protocolVersion: 3 });
    const summary = messages
      .filter(
        (m) =>
          m.tag !== 'insert' &&
          m.tag !== 'relation' &&
          m.tag !== 'stream_start' &&
          m.tag !== 'stream_stop',
      )
      .map((m) => ('gid' in m ? `${m.tag} ${m.gid}` : m.tag));
    // PG16+ streams every transaction at once; PG15 only the one past logical_decoding_work_mem.
    expect(summary).toEqual(
      major >= 16
        ? [
            `stream_prepare ${gid}-1`,
            `commit_prepared ${gid}-1`,
            `stream_prepare ${gid}-2`,
            `rollback_prepared ${gid}-2`,
            `stream_prepare ${gid}-3`,
            `commit_prepared ${gid}-3`,
          ]
        : [
            `begin_prepare ${gid}-1`,
            `prepare ${gid}-1`,
            `commit_prepared ${gid}-1`,
            `begin_prepare ${gid}-2`,
            `prepare ${gid}-2`,
            `rollback_prepared ${gid}-2`,
            `stream_prepare ${gid}-3`,
            `commit_prepared ${gid}-3`,
          ],
    );
    const streamPrepare = messages.filter((m) => m.tag === 'stream_prepare').at(-1)!;
    const start = messages.findLast((m) => m.tag === 'stream_start')!;
    expect(streamPrepare.xid).toBe(start.xid);
    expect(streamPrepare.endLsn).toBe(captured[messages.indexOf(streamPrepare)]!.lsn);
    expect(messages.filter((m) => m.tag === 'insert')).toHaveLength(2 + STREAM_ROWS * 3);
    expect(() => decodeAll(captured, { protocolVersion: 2 })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_MESSAGE' }),
    );
  });
});
