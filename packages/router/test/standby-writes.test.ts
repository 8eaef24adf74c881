// Statements a hot standby cannot run: writing built-ins and server-local administration go to the
// primary by classification; errors a standby raises because it is in recovery are retried there.
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Router } from '../src/index.js';
import { createRoutedPool } from '../src/pg.js';
import { queryUrl, recordedSql, recorder, until, waitForReplay } from './_helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('router_standby_writes');
  await queryUrl(
    db.url,
    `CREATE TABLE b (x int);
     INSERT INTO b SELECT generate_series(1, 1000);
     CREATE INDEX b_brin ON b USING brin (x) WITH (pages_per_range = 1, autosummarize = off);
     CREATE TABLE g (a int[]);
     CREATE INDEX g_gin ON g USING gin (a) WITH (fastupdate = on);
     INSERT INTO g SELECT ARRAY[i, i + 1] FROM generate_series(1, 100) i;
     CREATE SCHEMA colls;
     -- Functions the classifier cannot know write: a standby rejects them when they run.
     CREATE FUNCTION app_summarize() RETURNS int LANGUAGE sql
       AS $$ SELECT brin_summarize_range('b_brin', 0)::int $$;
     CREATE FUNCTION app_nextoid() RETURNS oid LANGUAGE sql
       AS $$ SELECT pg_nextoid('pg_catalog.pg_class', 'oid', 'pg_catalog.pg_class_oid_index') $$;
     CREATE FUNCTION app_insert() RETURNS int LANGUAGE sql
       AS $$ INSERT INTO b VALUES (-1) RETURNING x $$;
     CREATE FUNCTION app_other_55000() RETURNS int LANGUAGE plpgsql
       AS $$ BEGIN RAISE EXCEPTION 'object is busy' USING ERRCODE = '55000'; END $$;`,
  );
  await waitForReplay(db.url, db.replicaUrls);
});
afterAll(async () => {
  await db?.drop();
});

interface Subject {
  router: Router<unknown>;
  rec: ReturnType<typeof recorder>;
  q(text: string): Promise<Record<string, any>[]>;
  end(): Promise<void>;
}

const openPg = (): Subject => {
  const rec = recorder();
  const pool = createRoutedPool({ primary: db.url, replicas: db.replicaUrls, logger: rec.logger });
  return {
    rec,
    router: pool.router,
    q: async (text) => (await pool.query(text)).rows,
    end: () => pool.end(),
  };
};

const openPostgres = (): Subject => {
  const { sql, rec } = recordedSql(db);
  return {
    rec,
    router: sql.router as Router<unknown>,
    q: async (text) => await sql.unsafe(text),
    end: () => sql.end(),
  };
};

/** Each statement returns `r` = pg_is_in_recovery() of the server that ran it. */
const WRITING_BUILT_INS: [fn: string, sql: string][] = [
  [
    'brin_summarize_range',
    "SELECT brin_summarize_range('b_brin', 0) AS n, pg_is_in_recovery() AS r",
  ],
  [
    'brin_summarize_new_values',
    "SELECT brin_summarize_new_values('b_brin') AS n, pg_is_in_recovery() AS r",
  ],
  [
    'brin_desummarize_range',
    "SELECT brin_desummarize_range('b_brin', 0), pg_is_in_recovery() AS r",
  ],
  [
    'gin_clean_pending_list',
    "SELECT gin_clean_pending_list('g_gin') AS n, pg_is_in_recovery() AS r",
  ],
  [
    'pg_import_system_collations',
    "SELECT pg_import_system_collations('colls') AS n, pg_is_in_recovery() AS r",
  ],
  [
    'pg_nextoid',
    "SELECT pg_nextoid('pg_catalog.pg_class', 'oid', 'pg_catalog.pg_class_oid_index') AS n, pg_is_in_recovery() AS r",
  ],
];

const ADMINISTRATION: [fn: string, sql: string][] = [
  ['pg_reload_conf', 'SELECT pg_reload_conf() AS ok, pg_is_in_recovery() AS r'],
  ['pg_stat_reset', 'SELECT pg_stat_reset(), pg_is_in_recovery() AS r'],
  ['pg_stat_reset_shared', "SELECT pg_stat_reset_shared('bgwriter'), pg_is_in_recovery() AS r"],
  [
    'pg_stat_reset_single_table_counters',
    "SELECT pg_stat_reset_single_table_counters('b'::regclass), pg_is_in_recovery() AS r",
  ],
  ['pg_rotate_logfile', 'SELECT pg_rotate_logfile(), pg_is_in_recovery() AS r'],
  ['pg_switch_wal', 'SELECT pg_switch_wal(), pg_is_in_recovery() AS r'],
  ['pg_create_restore_point', "SELECT pg_create_restore_point('koyo'), pg_is_in_recovery() AS r"],
];

describe.each([
  ['pg', openPg],
  ['postgres', openPostgres],
] as const)('statements a standby cannot run, through %s', (_kind, open) => {
  it.each([...WRITING_BUILT_INS, ...ADMINISTRATION])('%s runs on the primary', async (fn, text) => {
    const s = open();
    try {
      expect(s.router.explain(text)).toMatchObject({
        target: 'primary',
        reason: `classified:${fn}`,
      });
      const rows = await s.q(text);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.r).toBe(false);
      expect(s.rec.entries.map((e) => [e.event, e.node])).toEqual([['query', 'primary']]);
    } finally {
      await s.end();
    }
  });

  it('pg_cancel_backend and pg_terminate_backend act on a backend of the primary', async () => {
    const s = open();
    const victims = [new pg.Client(db.url), new pg.Client(db.url)];
    try {
      for (const victim of victims) {
        victim.on('error', () => undefined);
        await victim.connect();
      }
      const [cancel, terminate] = await Promise.all(
        victims.map(
          async (v) =>
            (await v.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
        ),
      );
      const sleeping = victims[0]!.query('SELECT pg_sleep(60)').catch((e: unknown) => e);
      await until(
        async () =>
          (await queryUrl(db.url, 'SELECT state FROM pg_stat_activity WHERE pid = $1', [cancel]))[0]
            ?.state === 'active',
        'the sleep to start',
      );
      expect(
        await s.q(`SELECT pg_cancel_backend(${cancel}) AS ok, pg_is_in_recovery() AS r`),
      ).toEqual([{ ok: true, r: false }]);
      expect(await sleeping).toMatchObject({ code: '57014' });
      expect(
        await s.q(
          `SELECT pg_terminate_backend(${terminate}, 60000) AS ok, pg_is_in_recovery() AS r`,
        ),
      ).toEqual([{ ok: true, r: false }]);
      const left = await queryUrl(
        db.url,
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1',
        [terminate],
      );
      expect(left).toEqual([{ n: 0 }]);
      expect(s.rec.entries.every((e) => e.node === 'primary')).toBe(true);
    } finally {
      for (const victim of victims) await victim.end().catch(() => undefined);
      await s.end();
    }
  });

  it('pg_promote goes to the primary (which refuses: it is not in recovery), never promotes a standby', async () => {
    const s = open();
    try {
      expect(s.router.explain('SELECT pg_promote()')).toMatchObject({
        target: 'primary',
        reason: 'classified:pg_promote',
      });
      const error = await s.q('SELECT pg_promote(false)').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: '55000', message: 'recovery is not in progress' });
      expect(s.rec.entries.map((e) => [e.event, e.node])).toEqual([['query', 'primary']]);
      for (const url of db.replicaUrls) {
        expect(await queryUrl(url, 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: true }]);
      }
    } finally {
      await s.end();
    }
  });

  it.each([
    [
      '55000 "recovery is in progress"',
      'SELECT app_summarize() AS v, pg_is_in_recovery() AS r',
      '55000',
    ],
    [
      'XX000 "cannot assign OIDs during recovery"',
      'SELECT app_nextoid() AS v, pg_is_in_recovery() AS r',
      'XX000',
    ],
    ['25006 read-only transaction', 'SELECT app_insert() AS v, pg_is_in_recovery() AS r', '25006'],
  ])('a read the standby rejects with %s is retried on the primary', async (_what, text, state) => {
    const s = open();
    try {
      expect(s.router.explain(text).target).toBe('replica'); // the classifier cannot know
      const rows = await s.q(text);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.r).toBe(false);
      const [first, retry, ...rest] = s.rec.entries;
      expect(rest).toEqual([]);
      expect(first).toMatchObject({ event: 'query', role: 'replica' });
      expect(retry).toMatchObject({
        event: 'retry',
        node: 'primary',
        reason: `retry:${state} from ${first!.node}`,
        error: { code: state },
      });
    } finally {
      await s.end();
    }
  });

  it('any other error of a replica (55000 without the recovery message) reaches the app, without a retry', async () => {
    const s = open();
    try {
      const error = await s.q('SELECT app_other_55000()').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: '55000', message: 'object is busy' });
      expect(s.rec.entries.map((e) => [e.event, e.role])).toEqual([['query', 'replica']]);
      expect(s.router.stats().retries).toBe(0);
    } finally {
      await s.end();
    }
  });
});
