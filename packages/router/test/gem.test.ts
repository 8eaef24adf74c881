// Every feature of the Ruby gem active_record_replica, in koyo form, through both adapters.
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  blockTransactions,
  getDefaultRole,
  KoyoRouterError,
  readFromPrimary,
  readFromReplica,
  setDefaultRole,
  skipTransactions,
  type Router,
} from '../src/index.js';
import { createRoutedPool, type RoutedPool } from '../src/pg.js';
import type { RoutedSql } from '../src/postgres.js';
import { queryUrl, recordedSql, recorder, waitForReplay } from './_helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('router_gem');
  await queryUrl(
    db.url,
    `CREATE TABLE roles (id int PRIMARY KEY, name text, description text);
     INSERT INTO roles VALUES (1, 'manager', 'boss'), (2, 'clerk', 'desk');
     CREATE TABLE inquiries (id serial PRIMARY KEY, body text);
     CREATE TABLE users (id int PRIMARY KEY, name text);`,
  );
  await waitForReplay(db.url, db.replicaUrls);
});
afterAll(async () => {
  await db?.drop();
});
afterEach(() => {
  setDefaultRole('replica');
});

/** The same operations over either adapter, so every test runs on both. */
interface Subject {
  router: Router<unknown>;
  rec: ReturnType<typeof recorder>;
  /** Runs one statement through the routed handle; rows. */
  q(text: string, values?: unknown[]): Promise<Record<string, any>[]>;
  /** The adapter's transaction helper: `fn` gets a function running statements in the transaction. */
  transaction<T>(
    fn: (tx: (text: string, values?: unknown[]) => Promise<Record<string, any>[]>) => Promise<T>,
  ): Promise<T>;
  end(): Promise<void>;
}

function pgSubject(options: { ignoreTransactions?: boolean } = {}): Subject & { pool: RoutedPool } {
  const rec = recorder();
  const pool = createRoutedPool({
    primary: db.url,
    replicas: db.replicaUrls,
    logger: rec.logger,
    ...options,
  });
  return {
    pool,
    rec,
    router: pool.router,
    q: async (text, values) => (await pool.query(text, values)).rows,
    transaction: (fn) =>
      pool.transaction((client) =>
        fn(async (text, values) => (await client.query(text, values)).rows),
      ),
    end: () => pool.end(),
  };
}

function postgresSubject(
  options: { ignoreTransactions?: boolean } = {},
): Subject & { sql: RoutedSql } {
  const { sql, rec } = recordedSql(db, options);
  return {
    sql,
    rec,
    router: sql.router as Router<unknown>,
    q: async (text, values) => await sql.unsafe(text, values),
    transaction: (fn) =>
      sql.begin((tx) => fn(async (text, values) => await tx.unsafe(text, values as never[]))),
    end: () => sql.end(),
  };
}

const WHERE = 'SELECT pg_is_in_recovery() AS r';

describe.each([
  ['pg', pgSubject],
  ['postgres', postgresSubject],
] as const)('gem features through %s', (kind, make) => {
  let s: Subject;
  beforeAll(() => {
    s = make();
  });
  afterAll(async () => {
    await s.end();
  });
  const id = (n: number): number => (kind === 'pg' ? 100 : 200) + n;

  it('reads from a replica and saves to the primary, logging "Replica:" for the read (the gem\'s first example)', async () => {
    const start = s.rec.lines.length;
    const [role] = await s.q(
      "SELECT *, pg_is_in_recovery() AS r FROM roles WHERE name = 'manager' LIMIT 1",
    );
    expect(role).toMatchObject({ id: 1, r: true });
    const [saved] = await s.q(
      'UPDATE roles SET description = $1 WHERE id = $2 RETURNING pg_is_in_recovery() AS r',
      ['Manager', 1],
    );
    expect(saved).toEqual({ r: false });
    const lines = s.rec.lines.slice(start);
    expect(lines[0]).toMatch(
      /^Replica: replica[12] \(classified:SELECT\) SELECT \*, pg_is_in_recovery\(\)/,
    );
    expect(lines[1]).toMatch(/^Primary: primary \(classified:UPDATE\) UPDATE roles/);
  });

  it("sends reads inside a transaction to the primary, also through the outer handle (the gem's transaction example)", async () => {
    await s.transaction(async (tx) => {
      await tx('INSERT INTO users VALUES ($1, $2)', [id(1), 'in-tx']);
      // The outer handle inside the transaction: same connection, sees the uncommitted row.
      const rows = await s.q('SELECT name, pg_is_in_recovery() AS r FROM users WHERE id = $1', [
        id(1),
      ]);
      expect(rows).toEqual([{ name: 'in-tx', r: false }]);
      expect(s.rec.last()).toMatchObject({ role: 'primary', reason: 'in-transaction' });
    });
    // committed, visible on the primary
    expect(await queryUrl(db.url, 'SELECT name FROM users WHERE id = $1', [id(1)])).toEqual([
      { name: 'in-tx' },
    ]);
  });

  it('rolls back when the transaction function throws, and the outer handle leaves the transaction afterwards', async () => {
    await expect(
      s.transaction(async (tx) => {
        await tx('INSERT INTO users VALUES ($1, $2)', [id(2), 'rolled back']);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(
      await queryUrl(db.url, 'SELECT count(*)::int AS n FROM users WHERE id = $1', [id(2)]),
    ).toEqual([{ n: 0 }]);
    const [row] = await s.q(WHERE);
    expect(row).toEqual({ r: true });
  });

  it('readFromPrimary sends reads to the primary, nests with readFromReplica and restores the outer scope', async () => {
    await readFromPrimary(async () => {
      expect(await s.q(WHERE)).toEqual([{ r: false }]);
      expect(s.rec.last()).toMatchObject({ node: 'primary', reason: 'read-from-primary' });
      await readFromReplica(async () => {
        expect(await s.q(WHERE)).toEqual([{ r: true }]);
      });
      // restored after the inner scope, across awaits
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(await s.q(WHERE)).toEqual([{ r: false }]);
    });
    expect(await s.q(WHERE)).toEqual([{ r: true }]);
  });

  it("readFromPrimary makes a count inside a transaction see the uncommitted insert with ignoreTransactions (the gem's Inquiry example)", async () => {
    const ignoring = make({ ignoreTransactions: true });
    try {
      await ignoring
        .transaction(async (tx) => {
          await tx('INSERT INTO inquiries (body) VALUES ($1)', [`${kind} uncommitted`]);
          const count =
            'SELECT count(*)::int AS n, pg_is_in_recovery() AS r FROM inquiries WHERE body = $1';
          // ignoreTransactions: the read goes to a replica, where the insert is not visible.
          expect(await ignoring.q(count, [`${kind} uncommitted`])).toEqual([{ n: 0, r: true }]);
          // read_from_primary inside the transaction: the transaction's connection, which sees it.
          await readFromPrimary(async () => {
            expect(await ignoring.q(count, [`${kind} uncommitted`])).toEqual([{ n: 1, r: false }]);
          });
          // writes through the outer handle still join the transaction
          await ignoring.q('INSERT INTO inquiries (body) VALUES ($1)', [`${kind} uncommitted`]);
          expect(ignoring.rec.last()).toMatchObject({ reason: 'in-transaction' });
          throw new Error('roll back');
        })
        .catch((error: Error) => {
          if (error.message !== 'roll back') throw error;
        });
      expect(
        await queryUrl(db.url, 'SELECT count(*)::int AS n FROM inquiries WHERE body = $1', [
          `${kind} uncommitted`,
        ]),
      ).toEqual([{ n: 0 }]);
    } finally {
      await ignoring.end();
    }
  });

  it('setDefaultRole("primary") sends every read to the primary except inside readFromReplica (the gem\'s read_from_primary!)', async () => {
    setDefaultRole('primary');
    expect(getDefaultRole()).toBe('primary');
    expect(await s.q(WHERE)).toEqual([{ r: false }]);
    expect(s.rec.last().reason).toBe('default-role');
    expect(await readFromReplica(() => s.q(WHERE))).toEqual([{ r: true }]);
    setDefaultRole('replica');
    expect(await s.q(WHERE)).toEqual([{ r: true }]);
  });

  it('deletes on the primary (delete_all) and reads then deletes (destroy_all)', async () => {
    await queryUrl(db.url, `INSERT INTO users VALUES (${id(10)}, 'a'), (${id(11)}, 'b')`);
    await waitForReplay(db.url, db.replicaUrls);
    // destroy_all: a read on the replica, then deletes on the primary in a transaction
    const rows = await s.q(
      `SELECT id, pg_is_in_recovery() AS r FROM users WHERE id IN (${id(10)}, ${id(11)}) ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: id(10), r: true },
      { id: id(11), r: true },
    ]);
    await s.transaction(async (tx) => {
      for (const row of rows) await tx('DELETE FROM users WHERE id = $1', [row.id]);
    });
    // delete_all: one DELETE, on the primary
    await s.q(`DELETE FROM users WHERE id >= ${id(0)} AND id < ${id(50)}`);
    expect(s.rec.last()).toMatchObject({ role: 'primary', reason: 'classified:DELETE' });
    expect(
      await queryUrl(
        db.url,
        `SELECT count(*)::int AS n FROM users WHERE id >= ${id(0)} AND id < ${id(50)}`,
      ),
    ).toEqual([{ n: 0 }]);
  });

  it('skipTransactions: BEGIN/COMMIT/ROLLBACK never reach the server and the helper runs without a transaction', async () => {
    await skipTransactions(async () => {
      await s
        .transaction(async (tx) => {
          await tx('INSERT INTO users VALUES ($1, $2)', [id(20), 'no transaction']);
          throw new Error('would have rolled back');
        })
        .catch(() => undefined);
    });
    // no transaction was open, so nothing was rolled back
    expect(await queryUrl(db.url, 'SELECT name FROM users WHERE id = $1', [id(20)])).toEqual([
      { name: 'no transaction' },
    ]);
    // raw BEGIN / ROLLBACK through the routed handle are suppressed too
    const start = s.rec.lines.length;
    await skipTransactions(async () => {
      await s.q('BEGIN');
      await s.q('INSERT INTO users VALUES ($1, $2)', [id(21), 'still no transaction']);
      await s.q('ROLLBACK');
    });
    expect(await queryUrl(db.url, 'SELECT name FROM users WHERE id = $1', [id(21)])).toEqual([
      { name: 'still no transaction' },
    ]);
    expect(
      s.rec.lines.slice(start).filter((line) => line.includes('(skipped:skipTransactions)')),
    ).toHaveLength(2);
  });

  it('blockTransactions throws TRANSACTION_BLOCKED on any attempt to open a transaction', async () => {
    const error = await blockTransactions(() => s.transaction(async () => 'never')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KoyoRouterError);
    expect(error).toMatchObject({ code: 'TRANSACTION_BLOCKED', name: 'KoyoRouterError' });
    // reads still work inside the block
    expect(await blockTransactions(() => s.q(WHERE))).toEqual([{ r: true }]);
    // a raw BEGIN through the routed handle is blocked too
    await expect(blockTransactions(() => s.q('BEGIN'))).rejects.toMatchObject({
      code: 'TRANSACTION_BLOCKED',
    });
  });

  it('retries once on the primary a read that the replica rejects as read-only (25006), and logs it', async () => {
    await queryUrl(
      db.url,
      `CREATE OR REPLACE FUNCTION bump_${kind}() RETURNS int LANGUAGE sql AS $$ UPDATE roles SET description = 'bumped' WHERE id = 2 RETURNING id $$`,
    );
    await waitForReplay(db.url, db.replicaUrls);
    const before = s.router.stats().retries;
    const rows = await s.q(`SELECT bump_${kind}() AS id, pg_is_in_recovery() AS r`);
    expect(rows).toEqual([{ id: 2, r: false }]);
    expect(s.router.stats().retries).toBe(before + 1);
    expect(s.rec.last()).toMatchObject({ event: 'retry', node: 'primary' });
    expect(s.rec.last().reason).toMatch(/^retry:25006 from replica[12]$/);
  });

  it('counts statements per node and explains without running', async () => {
    const before = s.router.stats();
    await s.q(WHERE);
    await s.q('UPDATE roles SET name = name WHERE id = 1');
    const after = s.router.stats();
    const replicaQueries = (st: typeof after): number =>
      st.replicas.reduce((n, r) => n + r.queries, 0);
    expect(replicaQueries(after)).toBe(replicaQueries(before) + 1);
    expect(after.primary.writes).toBe(before.primary.writes + 1);
    expect(s.router.explain('SELECT 1 FOR UPDATE')).toMatchObject({
      target: 'primary',
      node: 'primary',
      reason: 'classified:FOR UPDATE',
    });
    expect(s.router.explain('SELECT 1')).toMatchObject({
      target: 'replica',
      reason: 'classified:SELECT',
    });
    expect(s.router.stats().primary.queries).toBe(after.primary.queries);
  });
});

describe('adapter specifics', () => {
  it('pg: connect() pins the client to the primary, and a raw BEGIN inside withSession routes the outer pool into it', async () => {
    const { withSession } = await import('../src/index.js');
    const s = pgSubject();
    try {
      const client = await s.pool.connect();
      try {
        expect((await client.query(WHERE)).rows).toEqual([{ r: false }]);
        await withSession(async () => {
          await client.query('BEGIN');
          await client.query("INSERT INTO users VALUES (300, 'raw begin')");
          expect((await s.pool.query('SELECT name FROM users WHERE id = 300')).rows).toEqual([
            { name: 'raw begin' },
          ]);
          expect(s.rec.last()).toMatchObject({ reason: 'in-transaction' });
          await client.query('ROLLBACK');
          expect((await s.pool.query(WHERE)).rows).toEqual([{ r: true }]);
        });
      } finally {
        client.release();
      }
      expect(await queryUrl(db.url, 'SELECT count(*)::int AS n FROM users WHERE id = 300')).toEqual(
        [{ n: 0 }],
      );
      // callback style, as older pg code uses it
      const r = await new Promise((resolve, reject) =>
        s.pool.query(WHERE, (error: Error | null, result: any) =>
          error ? reject(error) : resolve(result.rows),
        ),
      );
      expect(r).toEqual([{ r: true }]);
      expect(s.pool.totalCount).toBeGreaterThan(0);
    } finally {
      await s.end();
    }
    await expect(s.pool.query('SELECT 1')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('postgres: tagged templates, fragments, helpers, values() and file() are classified', async () => {
    const s = postgresSubject();
    const { sql } = s;
    try {
      expect(await sql`SELECT pg_is_in_recovery() AS r, ${1}::int AS one`).toEqual([
        { r: true, one: 1 },
      ]);
      // a locking clause hidden in a fragment still goes to the primary
      const lock = sql`FOR UPDATE`;
      expect(await sql`SELECT pg_is_in_recovery() AS r FROM roles WHERE id = ${1} ${lock}`).toEqual(
        [{ r: false }],
      );
      expect(s.rec.last().reason).toBe('classified:FOR UPDATE');
      // helpers: insert with an object, identifiers
      await sql`INSERT INTO users ${sql({ id: 400, name: 'helper' })}`;
      expect(s.rec.last()).toMatchObject({ role: 'primary', reason: 'classified:INSERT' });
      expect(
        await readFromPrimary(() => sql`SELECT ${sql('name')} FROM users WHERE id = ${400}`),
      ).toEqual([{ name: 'helper' }]);
      expect(await sql`SELECT pg_is_in_recovery() AS r`.values()).toEqual([[true]]);
      const { writeFile, mkdtemp } = await import('node:fs/promises');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const dir = await mkdtemp(join(tmpdir(), 'koyo-router-'));
      await writeFile(join(dir, 'read.sql'), 'SELECT pg_is_in_recovery() AS r');
      await writeFile(
        join(dir, 'write.sql'),
        "SELECT nextval('inquiries_id_seq') > 0 AS ok, pg_is_in_recovery() AS r",
      );
      expect(await sql.file(join(dir, 'read.sql'))).toEqual([{ r: true }]);
      expect(await sql.file(join(dir, 'write.sql'))).toEqual([{ ok: true, r: false }]);
      expect(s.rec.last().reason).toBe('classified:nextval');
      // reserve() is a connection of the primary
      const reserved = await sql.reserve();
      expect(await reserved`SELECT pg_is_in_recovery() AS r`).toEqual([{ r: false }]);
      reserved.release();
      // forEach and cursor go through the router too
      const seen: boolean[] = [];
      await sql`SELECT pg_is_in_recovery() AS r`.forEach((row) => seen.push(row.r as boolean));
      expect(seen).toEqual([true]);
      // begin with options; a begin through the outer sql inside it is a savepoint of the same transaction
      await sql.begin('read write', async (tx) => {
        await tx`INSERT INTO users VALUES (${401}, ${'outer'})`;
        await sql
          .begin(async (inner) => {
            await inner`INSERT INTO users VALUES (${402}, ${'inner'})`;
            expect(await sql`SELECT count(*)::int AS n FROM users WHERE id IN (401, 402)`).toEqual([
              { n: 2 },
            ]);
            throw new Error('undo the savepoint');
          })
          .catch((error: Error) => expect(error.message).toBe('undo the savepoint'));
      });
      expect(
        await queryUrl(db.url, 'SELECT id FROM users WHERE id IN (401, 402) ORDER BY id'),
      ).toEqual([{ id: 401 }]);
      for await (const rows of sql`SELECT g, pg_is_in_recovery() AS r FROM generate_series(1, 3) g`.cursor(
        2,
      )) {
        expect(rows.every((row) => row.r === true)).toBe(true);
      }
    } finally {
      await s.end();
    }
  });
});
