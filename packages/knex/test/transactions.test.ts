import { databasePerFile } from '@koyo/testing/vitest';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blockTransactions,
  KoyoRouterError,
  readFromPrimary,
  readFromReplica,
  routedKnex,
  routerOf,
  skipTransactions,
  withSession,
  type RoutedKnex,
  type RoutedKnexOptions,
} from '../src/index.js';
import {
  P,
  proofOf,
  queryUrl,
  recorder,
  routedOn,
  until,
  type Proof as BaseProof,
} from './_helpers.js';

const rec = recorder();
const instances: RoutedKnex[] = [];

function make(options: Partial<RoutedKnexOptions> = {}): RoutedKnex {
  const k = routedOn(db, { logger: rec.logger, ...options }, 3);
  instances.push(k);
  return k;
}

type Proof = BaseProof & { pid: number };
const PROOF = `${P}, pg_backend_pid() AS pid`;

const db = databasePerFile('knex_tx', [
  'CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL DEFAULT 0)',
  "INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'bob', 50)",
]);
let knex: RoutedKnex;
beforeAll(() => {
  knex = make();
});
afterAll(async () => {
  for (const k of instances) await k.destroy();
});

const proof = async (k: Knex): Promise<Proof> =>
  (await proofOf(k, ', pg_backend_pid() AS pid')) as unknown as Proof;

describe('transactions', () => {
  it('runs the callback form and every query of the outer instance inside it on one primary connection', async () => {
    const seen = await knex.transaction(async (trx) => {
      await trx('accounts').insert({ id: 10, owner: 'cy', balance: 1 });
      const inner = await proof(trx);
      const outer = await proof(knex); // the outer instance routes into the transaction
      const uncommitted = await knex('accounts').where({ id: 10 }).first(); // and sees its writes
      const locked = await knex('accounts').where({ id: 1 }).forUpdate().first();
      return { inner, outer, uncommitted, locked };
    });
    expect(seen.inner.r).toBe(false);
    expect(seen.inner.port).toBe(db.cluster.primary.port);
    expect(seen.outer).toEqual(seen.inner);
    expect(seen.uncommitted).toMatchObject({ id: 10, owner: 'cy' });
    expect(seen.locked).toMatchObject({ id: 1 });
    expect(await queryUrl(db.url, 'SELECT owner FROM accounts WHERE id = 10')).toEqual([
      { owner: 'cy' },
    ]);
    // Outside the transaction again: reads go to replicas.
    expect((await proof(knex)).r).toBe(true);
  });

  it('rolls back when the callback throws, also for writes through the outer instance', async () => {
    await expect(
      knex.transaction(async () => {
        await knex('accounts').insert({ id: 11, owner: 'dee' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await queryUrl(db.url, 'SELECT * FROM accounts WHERE id = 11')).toEqual([]);
  });

  it('runs the handle form on the primary and, inside withSession, routes the outer instance into it', async () => {
    await withSession(async () => {
      const trx = await knex.transaction();
      await trx('accounts').insert({ id: 12, owner: 'eve' });
      const inner = await proof(trx);
      const outer = await proof(knex);
      expect(inner.r).toBe(false);
      expect(outer).toEqual(inner);
      expect(await knex('accounts').where({ id: 12 }).first()).toMatchObject({ owner: 'eve' });
      await trx.rollback();
      expect(trx.isCompleted()).toBe(true);
      // Detached after ROLLBACK: reads use replicas again.
      expect((await proof(knex)).r).toBe(true);
    });
    expect(await queryUrl(db.url, 'SELECT * FROM accounts WHERE id = 12')).toEqual([]);
  });

  it('runs the handle form without a session and commits on the primary', async () => {
    const trx = await knex.transaction();
    await trx('accounts').insert({ id: 13, owner: 'fay' });
    expect((await proof(trx)).r).toBe(false);
    await trx.commit();
    expect(await queryUrl(db.url, 'SELECT owner FROM accounts WHERE id = 13')).toEqual([
      { owner: 'fay' },
    ]);
  });

  it('keeps nested transactions (savepoints) on the same connection', async () => {
    await knex.transaction(async (trx) => {
      const outer = await proof(trx);
      await trx
        .transaction(async (nested) => {
          await nested('accounts').insert({ id: 14, owner: 'gus' });
          expect(await proof(nested)).toEqual(outer);
          expect(await proof(knex)).toEqual(outer);
          throw new Error('undo the savepoint');
        })
        .catch(() => undefined);
      expect(await trx('accounts').where({ id: 14 }).first()).toBeUndefined();
    });
  });

  it('supports transactionProvider', async () => {
    const provider = knex.transactionProvider();
    const trx = await provider();
    expect((await proof(trx)).r).toBe(false);
    await trx.commit();
  });

  it('sends read-only transactions to the primary by default', async () => {
    const p = await knex.transaction(async (trx) => proof(trx), { readOnly: true });
    expect(p.r).toBe(false);
  });

  it("sends read-only transactions to one replica with readOnlyTransactions: 'replica'", async () => {
    const k = make({ readOnlyTransactions: 'replica' });
    rec.clear();
    const seen = await k.transaction(
      async (trx) => {
        const a = await proof(trx);
        const b = await proof(k); // the outer instance follows it
        const rows = await trx('accounts').orderBy('id').select('id');
        const write = await trx('accounts')
          .insert({ id: 15, owner: 'no' })
          .then(
            () => 'written',
            (error: { code?: string }) => error.code,
          );
        return { a, b, rows, write };
      },
      { readOnly: true },
    );
    expect(seen.a.r).toBe(true);
    expect(seen.b).toEqual(seen.a);
    expect(seen.rows.map((r) => r.id)).toContain(1);
    expect(seen.write).toBe('25006'); // read-only transaction
    const begins = rec.queries().filter((e) => e.sql?.startsWith('BEGIN'));
    expect(begins).toHaveLength(1);
    expect(begins[0]!.role).toBe('replica');
    expect(begins[0]!.reason).toBe('read-only-transaction');
    // A read-write transaction of the same instance still uses the primary.
    expect((await k.transaction((trx) => proof(trx))).r).toBe(false);
  });

  it('sends reads inside transactions to replicas with ignoreTransactions', async () => {
    const k = make({ ignoreTransactions: true });
    await k.transaction(async (trx) => {
      expect((await proof(trx)).r).toBe(false); // trx is a primary connection
      expect((await proof(k)).r).toBe(true); // the outer instance's reads may leave it
      const primary = await readFromPrimary(() => proof(k));
      expect(primary).toEqual(await proof(trx)); // readFromPrimary inside: the transaction's connection
    });
  });

  it('skipTransactions sends no BEGIN and lets reads use replicas', async () => {
    rec.clear();
    const seen = await skipTransactions(() =>
      knex.transaction(async (trx) => {
        const read = await proof(trx);
        await trx('accounts').where({ id: 2 }).update({ balance: 51 });
        return read;
      }),
    );
    expect(seen.r).toBe(true);
    const logged = rec.queries();
    expect(
      logged.some((e) => e.sql?.startsWith('BEGIN') && e.reason === 'skipped:skipTransactions'),
    ).toBe(true);
    expect(
      logged.some((e) => e.sql?.startsWith('COMMIT') && e.reason === 'skipped:skipTransactions'),
    ).toBe(true);
    expect(await queryUrl(db.url, 'SELECT balance FROM accounts WHERE id = 2')).toEqual([
      { balance: '51' },
    ]);
  });

  it('blockTransactions rejects both forms with TRANSACTION_BLOCKED', async () => {
    await blockTransactions(async () => {
      await expect(knex.transaction(async () => undefined)).rejects.toMatchObject({
        code: 'TRANSACTION_BLOCKED',
      });
      await expect(knex.transaction()).rejects.toBeInstanceOf(KoyoRouterError);
    });
  });

  it('keeps a connection checked out with acquireConnection() on the primary (session state)', async () => {
    const conn = await knex.client.acquireConnection();
    try {
      await knex.raw("SET application_name = 'koyo-pinned'").connection(conn);
      const row = (await knex
        .first(knex.raw(`current_setting('application_name') AS app, ${PROOF}`))
        .connection(conn)) as Proof & { app: string };
      expect(row.app).toBe('koyo-pinned');
      expect(row.r).toBe(false);
    } finally {
      await knex.raw('RESET application_name').connection(conn);
      await knex.client.releaseConnection(conn);
    }
  });

  it('exposes the router on transactions too', async () => {
    await knex.transaction(async (trx) => {
      expect(routerOf(trx)).toBe(knex.router);
      expect(knex.router.currentTransaction()).toBeDefined();
    });
  });
});

describe('Knex features through the routed client', () => {
  it('cancels a timed-out read on the replica that runs it', async () => {
    const marker = `koyo_cancel_${Date.now()}`;
    rec.clear();
    await expect(
      knex.raw(`SELECT pg_sleep(120), '${marker}' AS m`).timeout(200, { cancel: true }),
    ).rejects.toThrow(/timeout/i);
    expect(rec.queries().at(-1)!.role).toBe('replica');
    const running = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120), ''${marker}''%' AND state = 'active' AND pid <> pg_backend_pid()`;
    // The cancel reaches the replica's backend (without it, the sleep would outlast this budget).
    await until(
      async () => {
        let n = 0;
        for (const url of db.replicaUrls) n += (await queryUrl<{ n: number }>(url, running))[0]!.n;
        return n === 0;
      },
      'the timed-out query to be cancelled',
      20_000,
    );
  });

  it('accepts connection functions (probes included) and can be destroyed twice', async () => {
    const k = routedKnex({
      primary: {
        client: 'pg',
        connection: (async () => ({ connectionString: db.url })) as NonNullable<
          Knex.Config['connection']
        >,
        pool: { min: 0, max: 2 },
      },
      replicas: [
        {
          connection: (() =>
            Promise.resolve({ connectionString: db.replicaUrls[0] })) as NonNullable<
            Knex.Config['connection']
          >,
          pool: { min: 0, max: 1 },
        },
      ],
      maxLag: { bytes: 1024 ** 3 },
    });
    const status = await k.router.probe(); // lag probes on both nodes, before any query
    expect(status[0]).toMatchObject({ healthy: true, withinLag: true });
    expect(status[0]!.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect((await proofOf(k)).port).toBe(db.cluster.replicas[0]!.port);
    await k.destroy();
    await k.destroy();
  });

  it('keeps routing on instances made with withUserParams', async () => {
    const k = knex.withUserParams({ tenant: 1 });
    expect((await proof(k)).r).toBe(true);
    await k.transaction(async () => {
      expect((await proof(k)).r).toBe(false);
    });
  });
});

describe('scopes', () => {
  it('readFromPrimary and readFromReplica', async () => {
    expect((await proof(knex)).r).toBe(true);
    expect((await readFromPrimary(() => proof(knex))).r).toBe(false);
    // A builder returned directly runs inside the scope too (Knex builders are lazy thenables).
    const direct: unknown = await readFromPrimary(() => knex.first(knex.raw(P)));
    expect(direct).toMatchObject({ r: false });
    expect((await readFromPrimary(() => knex.raw(`SELECT ${P}`))).rows[0]).toMatchObject({
      r: false,
    });
    const k = make({ defaultRole: 'primary' });
    expect((await proof(k)).r).toBe(false);
    expect((await readFromReplica(() => proof(k))).r).toBe(true);
    // Writes stay on the primary even in readFromReplica.
    const written = await readFromReplica(() =>
      k('accounts').insert({ id: 16, owner: 'hal' }).returning(k.raw(P)),
    );
    expect(written[0]).toMatchObject({ r: false });
  });
});
