// Loop-safe writes from handlers: what a handler writes through dispatcher.db carries the
// dispatcher's replication origin and is not delivered back to it; other writers still are.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KoyoDispatcherError, type Change, type Dispatcher } from '../src/index.js';
import { dispatcherFor, dropSlot, openDb, uniqueName, waitFor, type Db } from './helpers.js';

let db: Db;
let publication: string;

beforeAll(async () => {
  db = await openDb('disp_origin');
  await db.query(
    'CREATE TABLE orders (id serial PRIMARY KEY, price int NOT NULL, qty int NOT NULL, total int)',
  );
  await db.query('CREATE TABLE audit (id serial PRIMARY KEY, order_id int NOT NULL, note text)');
  publication = uniqueName('pub');
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLE orders, audit`);
});

afterAll(async () => {
  await db.close();
});

/** Runs `fn` with a dispatcher, then stops it and drops its slot and origin. */
async function withDispatcher(
  options: Parameters<typeof dispatcherFor>[1],
  fn: (dispatcher: Dispatcher) => Promise<void>,
): Promise<void> {
  const slot = uniqueName('origin');
  const dispatcher = dispatcherFor(db, { slot, publication, ...options });
  try {
    await fn(dispatcher);
  } finally {
    await dispatcher.stop();
    await dropSlot(db, slot);
    await dropOrigin(dispatcher.origin);
  }
}

/** Drops an origin once no session holds it (a closed pool's backend may still be exiting). */
async function dropOrigin(name: string): Promise<void> {
  await waitFor(
    () =>
      db
        .query(
          'SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1',
          [name],
        )
        .then(
          () => true,
          () => false,
        ),
    `origin ${name} to be released`,
  );
}

/** Inserts `count` orders from a plain session, in transactions of 100. */
async function insertOrders(count: number): Promise<void> {
  for (let done = 0; done < count; done += 100) {
    await db.query(
      `INSERT INTO orders (price, qty) SELECT g, 2 FROM generate_series(1, ${Math.min(100, count - done)}) g`,
    );
  }
}

/** A session tagged with a replication origin of its own (as a subscriber's apply worker is). */
async function originSession(name: string): Promise<pg.Client> {
  const client = new pg.Client(db.url);
  await client.connect();
  await client.query(
    'SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT FROM pg_replication_origin WHERE roname = $1)',
    [name],
  );
  await client.query('SELECT pg_replication_origin_session_setup($1)', [name]);
  return client;
}

describe('dispatcher.db', () => {
  it('a handler updating the table it listens to, through dispatcher.db, hears no echo', async () => {
    await db.query('TRUNCATE orders, audit');
    await withDispatcher({}, async (dispatcher) => {
      const seen: Change[] = [];
      let auditChanges = 0;
      dispatcher.onTable('orders', async (change) => {
        seen.push(change);
        await dispatcher.db.transaction(async (tx) => {
          await tx.query('UPDATE orders SET total = price * qty WHERE id = $1', [change.id]);
          await tx.query("INSERT INTO audit (order_id, note) VALUES ($1, 'priced')", [change.id]);
        });
      });
      dispatcher.onTable('audit', () => void auditChanges++);
      await dispatcher.start();
      await insertOrders(1000);
      await dispatcher.drain();
      // The handlers' writes all committed before this marker: an echo would arrive before it.
      await dispatcher.drain();
      expect(seen).toHaveLength(1000);
      expect(new Set(seen.map((c) => c.kind))).toEqual(new Set(['insert']));
      expect(auditChanges).toBe(0);
      const [rows] = await db.query<{ orders: number; priced: number; audit: number }>(
        `SELECT (SELECT count(*)::int FROM orders) AS orders,
                (SELECT count(*)::int FROM orders WHERE total = price * qty) AS priced,
                (SELECT count(DISTINCT order_id)::int FROM audit) AS audit`,
      );
      expect(rows).toEqual({ orders: 1000, priced: 1000, audit: 1000 });
      expect(dispatcher.stats().changes).toBe(1000);
    });
  });

  it('the same handler writing through a plain connection loops (bounded run)', async () => {
    await db.query('TRUNCATE orders, audit');
    const plain = new pg.Pool({ connectionString: db.url, max: 1 });
    const orders = 50;
    const bound = orders * 3;
    try {
      await withDispatcher({}, async (dispatcher) => {
        let calls = 0;
        dispatcher.onTable('orders', async (change) => {
          if (++calls > bound) return; // the loop is proven: stop feeding it
          await plain.query('UPDATE orders SET total = coalesce(total, 0) + 1 WHERE id = $1', [
            change.id,
          ]);
        });
        await dispatcher.start();
        await insertOrders(orders);
        // Without origins, every write of the handler comes back as a change: far more calls
        // than rows written. Waiting for the bound proves the loop the origin prevents.
        await waitFor(() => calls > bound, 'the handler to be called back by its own writes');
        expect(calls).toBeGreaterThan(orders);
      });
    } finally {
      await plain.end();
    }
  });

  it('writes of other sessions and other origins still arrive; ignoreOrigins chooses', async () => {
    await db.query('TRUNCATE orders, audit');
    const other = uniqueName('other_origin');
    const tagged = await originSession(other);
    const own = dispatcherFor(db, { slot: uniqueName('o_own'), publication });
    const all = dispatcherFor(db, { slot: uniqueName('o_all'), publication, ignoreOrigins: 'all' });
    const listed = dispatcherFor(db, {
      slot: uniqueName('o_list'),
      publication,
      ignoreOrigins: [other],
    });
    const notes = new Map<Dispatcher, string[]>();
    for (const dispatcher of [own, all, listed]) {
      const list: string[] = [];
      notes.set(dispatcher, list);
      dispatcher.onTable('audit', (change) => void list.push(String(change.new?.note)));
    }
    try {
      for (const dispatcher of [own, all, listed]) await dispatcher.start();
      await db.query("INSERT INTO audit (order_id, note) VALUES (1, 'plain')");
      await tagged.query("INSERT INTO audit (order_id, note) VALUES (2, 'other origin')");
      await own.db.query("INSERT INTO audit (order_id, note) VALUES (3, 'own db')");
      for (const dispatcher of [own, all, listed]) await dispatcher.drain();
      expect(notes.get(own)).toEqual(['plain', 'other origin']);
      expect(notes.get(all)).toEqual(['plain']);
      // own.db writes under another dispatcher's origin, which `listed` does not list.
      expect(notes.get(listed)).toEqual(['plain', 'own db']);
    } finally {
      await tagged.end();
      for (const dispatcher of [own, all, listed]) {
        await dispatcher.stop();
        await dropSlot(db, originSlot(dispatcher));
      }
      for (const name of [other, ...[own, all, listed].map((d) => d.origin)])
        await dropOrigin(name);
    }
  });

  it('a large streamed transaction written through dispatcher.db is not delivered either', async () => {
    await db.query('TRUNCATE orders, audit');
    const url = `${db.url}?options=${encodeURIComponent('-c logical_decoding_work_mem=64kB')}`;
    await withDispatcher({ connection: url, streaming: true }, async (dispatcher) => {
      const notes: string[] = [];
      dispatcher.onTable('audit', (change) => void notes.push(String(change.new?.note)));
      await dispatcher.start();
      await dispatcher.db.query(
        "INSERT INTO audit (order_id, note) SELECT g, 'bulk' FROM generate_series(1, 5000) g",
      );
      await db.query("INSERT INTO audit (order_id, note) VALUES (0, 'after')");
      await dispatcher.drain();
      expect(notes).toEqual(['after']);
    });
  });

  it('recordOriginProgress records the handled transaction as the origin progress, atomically with the writes', async () => {
    await db.query('TRUNCATE orders, audit');
    await withDispatcher({}, async (dispatcher) => {
      const handled: Change[] = [];
      dispatcher.onTable('orders', async (change) => {
        await dispatcher.db.transaction(
          (tx) => tx.query('INSERT INTO audit (order_id) VALUES ($1)', [change.id]),
          { recordOriginProgress: change },
        );
        handled.push(change);
      });
      await dispatcher.start();
      expect(await dispatcher.db.progress()).toBeNull();
      await insertOrders(3);
      await db.query('INSERT INTO orders (price, qty) VALUES (1, 1)');
      await dispatcher.drain();
      const last = handled.at(-1)!.commitLsn;
      expect(await dispatcher.db.progress()).toBe(last);
      const [status] = await db.query<{ lsn: string }>(
        `SELECT s.remote_lsn::text AS lsn FROM pg_replication_origin_status s
           JOIN pg_replication_origin o ON o.roident = s.local_id WHERE o.roname = $1`,
        [dispatcher.origin],
      );
      expect(status!.lsn).toBe(last);
      // A failed transaction records nothing.
      await expect(
        dispatcher.db.transaction(
          async (tx) => {
            await tx.query('INSERT INTO audit (order_id) VALUES (-1)');
            throw new Error('rolled back');
          },
          { recordOriginProgress: { commitLsn: 'FF/0', commitTime: handled[0]!.commitTime } },
        ),
      ).rejects.toThrow('rolled back');
      expect(await dispatcher.db.progress()).toBe(last);
    });
  });

  it('ORIGIN_ACTIVE after a bounded wait when another session holds the origin', async () => {
    await withDispatcher({ originWaitMs: 300 }, async (dispatcher) => {
      const holder = await originSession(dispatcher.origin);
      try {
        const error = await dispatcher.db.query('SELECT 1').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(KoyoDispatcherError);
        expect((error as KoyoDispatcherError).code).toBe('ORIGIN_ACTIVE');
        expect((error as Error).message).toContain(dispatcher.origin);
      } finally {
        await holder.end();
      }
      // Once the holder is gone, the next query sets the origin up.
      await waitFor(async () => {
        try {
          await dispatcher.db.query('SELECT 1');
          return true;
        } catch {
          return false;
        }
      }, 'the origin to be free');
      const [row] = await dispatcher.db
        .query<{ origin: boolean }>('SELECT pg_replication_origin_session_is_setup() AS origin')
        .then((r) => r.rows);
      expect(row!.origin).toBe(true);
    });
  });
});

describe('stop()', () => {
  it('lets go of the origin at once: it can be dropped right after stop()', async () => {
    // A backend frees its origin only when its process exits; without a reset in stop() the
    // drop below races the exiting backend and fails with "in use by PID ...".
    for (let round = 0; round < 20; round += 1) {
      const dispatcher = dispatcherFor(db, { slot: uniqueName('o_stop'), publication });
      await dispatcher.db.query('SELECT 1');
      await dispatcher.stop();
      await db.query('SELECT pg_replication_origin_drop($1)', [dispatcher.origin]);
    }
    const left = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_replication_origin WHERE roname LIKE 'koyo_o_stop%'",
    );
    expect(left[0]!.n).toBe(0);
  });
});

describe('privileges', () => {
  const role = `origin_role_${process.pid}`;
  beforeAll(async () => {
    await db.query(`DROP ROLE IF EXISTS ${role}`);
    await db.query(`CREATE ROLE ${role} LOGIN REPLICATION`);
    await db.query(`GRANT SELECT, INSERT ON audit TO ${role}`);
    await db.query(`GRANT USAGE ON SEQUENCE audit_id_seq TO ${role}`);
  });
  afterAll(async () => {
    await db.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  it('a role without origin privileges gets PERMISSION_DENIED with the GRANTs, and nothing is created', async () => {
    const url = db.url.replace(/\/\/[^@/]*@/, `//${role}@`);
    expect(url).not.toBe(db.url);
    const slot = uniqueName('o_perm');
    const dispatcher = dispatcherFor(db, { connection: url, slot, publication });
    void dispatcher.db; // taken before start: start() checks the privileges
    const error = await dispatcher.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KoyoDispatcherError);
    expect((error as KoyoDispatcherError).code).toBe('PERMISSION_DENIED');
    const grants = (error as Error).message.split('\n').filter((l) => l.startsWith('GRANT'));
    expect(grants).toEqual([
      `GRANT EXECUTE ON FUNCTION pg_catalog.pg_replication_origin_create(text) TO "${role}";`,
      `GRANT EXECUTE ON FUNCTION pg_catalog.pg_replication_origin_session_setup(text) TO "${role}";`,
    ]);
    const [left] = await db.query<{ slots: number; origins: number }>(
      `SELECT (SELECT count(*)::int FROM pg_replication_slots WHERE slot_name = $1) AS slots,
              (SELECT count(*)::int FROM pg_replication_origin WHERE roname = $2) AS origins`,
      [slot, dispatcher.origin],
    );
    expect(left).toEqual({ slots: 0, origins: 0 });

    // The printed GRANTs are exactly enough: with them, the same role writes loop-safely.
    for (const grant of grants) await db.query(grant);
    await withDispatcher({ connection: url }, async (granted) => {
      const notes: string[] = [];
      granted.onTable('audit', (change) => void notes.push(String(change.new?.note)));
      void granted.db;
      await granted.start();
      await granted.db.query("INSERT INTO audit (order_id, note) VALUES (7, 'granted db')");
      await db.query("INSERT INTO audit (order_id, note) VALUES (8, 'plain')");
      await granted.drain();
      expect(notes).toEqual(['plain']);
    });
  });
});

function originSlot(dispatcher: Dispatcher): string {
  return dispatcher.origin.slice('koyo_'.length);
}
