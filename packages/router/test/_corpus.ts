/** Schema the corpus runs against. */
export const SCHEMA = `
CREATE TABLE items (id int PRIMARY KEY, note text, "update" int NOT NULL DEFAULT 0);
INSERT INTO items (id, note) SELECT g, 'n' || g FROM generate_series(1, 10) g;
CREATE TABLE scratch (id int, note text);
CREATE SEQUENCE seq;
CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM items;
CREATE PROCEDURE touch() LANGUAGE sql AS $$ UPDATE items SET note = note WHERE id = 1 $$;
CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS $$ UPDATE items SET "update" = "update" + 1 WHERE id = 1 RETURNING "update" $$;
`;

/** One statement of the corpus and what it must be. */
export interface CorpusEntry {
  readonly sql: string;
  readonly role: 'read' | 'write';
  /** Reason the classifier must give (checked when present). */
  readonly reason?: string;
  /** Must run inside a transaction (LOCK, DECLARE, ...): routed through the outer handle inside one. */
  readonly tx?: boolean;
  /** Returns `port` and `r` (pg_is_in_recovery()) columns: server-side proof of where it ran. */
  readonly proves?: boolean;
}

const P = 'inet_server_port() AS port, pg_is_in_recovery() AS r';

/**
 * At least 80 statements. `base` keeps ids apart when the corpus runs once per adapter. Each
 * statement is valid against {@link SCHEMA} in this order.
 */
export function corpus(base: number): CorpusEntry[] {
  const a = base;
  return [
    // ---- reads ---------------------------------------------------------------------------
    { sql: `SELECT ${P}`, role: 'read', proves: true },
    { sql: `select ${P} from items where id = 1`, role: 'read', proves: true },
    { sql: `SELECT ${P}, count(*) FROM items`, role: 'read', proves: true },
    { sql: `SELECT ${P}, 'FOR UPDATE' AS s`, role: 'read', proves: true },
    { sql: `SELECT ${P}, $$ INSERT INTO items VALUES (1) $$ AS s`, role: 'read', proves: true },
    { sql: `SELECT ${P}, $tag$ nextval('seq') $$ $tag$ AS s`, role: 'read', proves: true },
    { sql: `SELECT ${P}, E'it\\'s; DELETE FROM items' AS s`, role: 'read', proves: true },
    { sql: `SELECT ${P}, 'it''s FOR SHARE' AS s`, role: 'read', proves: true },
    { sql: `SELECT ${P} -- FOR UPDATE\n`, role: 'read', proves: true },
    {
      sql: `/* nested /* FOR UPDATE */ still a comment; DELETE FROM items */ SELECT ${P}`,
      role: 'read',
      proves: true,
    },
    { sql: `SELECT ${P}, "update" FROM items WHERE id = 2`, role: 'read', proves: true },
    { sql: `SELECT ${P}, t.nextval FROM (SELECT 1 AS nextval) t`, role: 'read', proves: true },
    { sql: `SELECT ${P}, items.update FROM items WHERE id = 3`, role: 'read', proves: true },
    { sql: `SELECT ${P}, substring('abcdef' FROM 2 FOR 3) AS s`, role: 'read', proves: true },
    {
      sql: `SELECT ${P}, overlay('abcdef' placing 'x' from 2 for 1) AS s`,
      role: 'read',
      proves: true,
    },
    {
      sql: `WITH x AS (SELECT id FROM items) SELECT ${P}, count(*) FROM x`,
      role: 'read',
      proves: true,
    },
    {
      sql: `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT ${P}, sum(n) FROM r`,
      role: 'read',
      proves: true,
    },
    {
      sql: `WITH x AS MATERIALIZED (SELECT 1 AS one) SELECT ${P}, one FROM x`,
      role: 'read',
      proves: true,
    },
    { sql: `(SELECT ${P}) UNION ALL (SELECT ${P})`, role: 'read', proves: true },
    {
      sql: `SELECT ${P}, json_build_object('a', 1, 'b', array[1,2]) AS j`,
      role: 'read',
      proves: true,
    },
    {
      sql: `SELECT ${P}, row_number() OVER (ORDER BY id) FROM items LIMIT 3`,
      role: 'read',
      proves: true,
    },
    { sql: `SELECT ${P}, now() - now() AS zero, random() < 2 AS t`, role: 'read', proves: true },
    { sql: `SELECT ${P}, pg_sleep(0)`, role: 'read', proves: true },
    { sql: `SELECT ${P}, current_setting('search_path') AS sp`, role: 'read', proves: true },
    {
      sql: `SELECT ${P}, pg_last_wal_replay_lsn() IS NOT NULL AS replaying`,
      role: 'read',
      proves: true,
    },
    { sql: `SELECT ${P}, n FROM mv`, role: 'read', proves: true },
    {
      sql: `SELECT ${P}, "Note" FROM (SELECT note AS "Note" FROM items) s LIMIT 1`,
      role: 'read',
      proves: true,
    },
    {
      sql: `SELECT ${P}, i.* FROM items i JOIN LATERAL (SELECT 1 AS one) l ON true WHERE i.id < 3`,
      role: 'read',
      proves: true,
    },
    {
      sql: `SELECT ${P}, EXISTS (SELECT 1 FROM items WHERE note LIKE 'n%') AS e`,
      role: 'read',
      proves: true,
    },
    {
      sql: `SELECT ${P}, u&'\\0041' AS s, b'101' AS bits, x'1F' AS hex`,
      role: 'read',
      proves: true,
    },
    { sql: `SELECT ${P}, 1.5e3 + .5 + 1e-2 AS n`, role: 'read', proves: true },
    {
      sql: `SELECT ${P}, array_agg(id ORDER BY id) FILTER (WHERE id > 5) FROM items`,
      role: 'read',
      proves: true,
    },
    {
      sql: `SELECT ${P}, id FROM items WHERE note <> 'update' AND note <> 'delete' ORDER BY id LIMIT 1`,
      role: 'read',
      proves: true,
    },
    {
      sql: `SELECT ${P} FROM items WHERE id IN (SELECT id FROM items WHERE id < 4)`,
      role: 'read',
      proves: true,
    },
    { sql: `SELECT ${P};`, role: 'read', proves: true },
    { sql: `  \n\t SELECT ${P} ;  -- trailing comment`, role: 'read', proves: true },
    { sql: 'VALUES (1, 2), (3, 4)', role: 'read', reason: 'classified:VALUES' },
    { sql: 'TABLE items', role: 'read', reason: 'classified:TABLE' },
    { sql: 'SHOW search_path', role: 'read', reason: 'classified:SHOW' },
    { sql: 'show transaction_read_only', role: 'read' },
    { sql: 'EXPLAIN SELECT * FROM items', role: 'read', reason: 'classified:EXPLAIN' },
    { sql: 'EXPLAIN (FORMAT JSON, COSTS OFF) SELECT * FROM items WHERE id = 1', role: 'read' },
    { sql: 'EXPLAIN (ANALYZE false) SELECT 1', role: 'read' },
    { sql: 'EXPLAIN VERBOSE SELECT count(*) FROM items', role: 'read' },
    { sql: `EXPLAIN INSERT INTO items (id) VALUES (${a})`, role: 'read' },
    {
      sql: 'SELECT pg_is_in_recovery() AS r, txid_current_snapshot() IS NOT NULL AS s',
      role: 'read',
    },
    // ---- writes: DML and writable CTEs ----------------------------------------------------
    {
      sql: `INSERT INTO items (id, note) VALUES (${a + 1}, 'a') RETURNING ${P}`,
      role: 'write',
      reason: 'classified:INSERT',
      proves: true,
    },
    {
      sql: `insert into items (id, note) select ${a + 2}, 'b' returning ${P}`,
      role: 'write',
      proves: true,
    },
    {
      sql: `UPDATE items SET note = 'u' WHERE id = ${a + 1} RETURNING ${P}`,
      role: 'write',
      reason: 'classified:UPDATE',
      proves: true,
    },
    {
      sql: `DELETE FROM items WHERE id = ${a + 2} RETURNING ${P}`,
      role: 'write',
      reason: 'classified:DELETE',
      proves: true,
    },
    {
      sql: `INSERT INTO items (id, note) VALUES (${a + 1}, 'x') ON CONFLICT (id) DO UPDATE SET note = 'y' RETURNING ${P}`,
      role: 'write',
      proves: true,
    },
    {
      sql: `MERGE INTO items t USING (SELECT ${a + 3} AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, note) VALUES (s.id, 'm')`,
      role: 'write',
      reason: 'classified:MERGE',
    },
    {
      sql: `WITH ins AS (INSERT INTO items (id, note) VALUES (${a + 4}, 'c') RETURNING id) SELECT ${P}, id FROM ins`,
      role: 'write',
      reason: 'classified:writable CTE',
      proves: true,
    },
    {
      sql: `WITH upd AS (UPDATE items SET note = 'd' WHERE id = ${a + 4} RETURNING id) SELECT ${P} FROM upd`,
      role: 'write',
      proves: true,
    },
    {
      sql: `WITH del AS (DELETE FROM items WHERE id = ${a + 4} RETURNING id) SELECT ${P} FROM del`,
      role: 'write',
      proves: true,
    },
    {
      sql: `WITH src AS (SELECT ${a + 5} AS id) INSERT INTO items (id, note) SELECT id, 'e' FROM src RETURNING ${P}`,
      role: 'write',
      proves: true,
    },
    // ---- row locks ------------------------------------------------------------------------
    {
      sql: `SELECT ${P} FROM items WHERE id = 1 FOR UPDATE`,
      role: 'write',
      reason: 'classified:FOR UPDATE',
      proves: true,
    },
    {
      sql: `SELECT ${P} FROM items WHERE id = 1 FOR NO KEY UPDATE`,
      role: 'write',
      reason: 'classified:FOR NO KEY UPDATE',
      proves: true,
    },
    {
      sql: `SELECT ${P} FROM items WHERE id = 1 FOR SHARE`,
      role: 'write',
      reason: 'classified:FOR SHARE',
      proves: true,
    },
    {
      sql: `SELECT ${P} FROM items WHERE id = 1 FOR KEY SHARE`,
      role: 'write',
      reason: 'classified:FOR KEY SHARE',
      proves: true,
    },
    {
      sql: `SELECT ${P} FROM items ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
      role: 'write',
      proves: true,
    },
    { sql: `SELECT ${P} FROM items WHERE id = 2 FOR UPDATE NOWAIT`, role: 'write', proves: true },
    { sql: `SELECT ${P} FROM items i WHERE id = 3 FOR UPDATE OF i`, role: 'write', proves: true },
    {
      sql: `select ${P} from items where id = 3 for /* locking */ no\n key update`,
      role: 'write',
      reason: 'classified:FOR NO KEY UPDATE',
      proves: true,
    },
    {
      sql: `SELECT ${P} FROM (SELECT * FROM items WHERE id = 4 FOR SHARE) s`,
      role: 'write',
      proves: true,
    },
    {
      sql: `WITH l AS (SELECT id FROM items WHERE id = 5 FOR UPDATE) SELECT ${P} FROM l`,
      role: 'write',
      proves: true,
    },
    // ---- volatile functions -----------------------------------------------------------------
    {
      sql: `SELECT ${P}, nextval('seq')`,
      role: 'write',
      reason: 'classified:nextval',
      proves: true,
    },
    {
      sql: `SELECT ${P}, currval('seq')`,
      role: 'write',
      reason: 'classified:currval',
      proves: true,
    },
    { sql: `SELECT ${P}, lastval()`, role: 'write', reason: 'classified:lastval', proves: true },
    {
      sql: `SELECT ${P}, setval('seq', 100)`,
      role: 'write',
      reason: 'classified:setval',
      proves: true,
    },
    { sql: `SELECT ${P}, pg_catalog.nextval('seq')`, role: 'write', proves: true },
    { sql: `SELECT ${P}, NEXTVAL ('seq')`, role: 'write', proves: true },
    { sql: `SELECT ${P}, "nextval"('seq')`, role: 'write', proves: true },
    { sql: `SELECT ${P}, id, nextval('seq') FROM items WHERE id = 1`, role: 'write', proves: true },
    { sql: `VALUES (nextval('seq'))`, role: 'write' },
    {
      sql: `WITH s AS (SELECT nextval('seq') AS v) SELECT ${P}, v FROM s`,
      role: 'write',
      proves: true,
    },
    {
      sql: `SELECT ${P}, pg_advisory_lock(${a})`,
      role: 'write',
      reason: 'classified:pg_advisory_lock',
      proves: true,
    },
    { sql: `SELECT ${P}, pg_advisory_unlock(${a})`, role: 'write', proves: true },
    { sql: `SELECT ${P}, pg_try_advisory_lock(${a + 1})`, role: 'write', proves: true },
    { sql: `SELECT ${P}, pg_advisory_unlock_all()`, role: 'write', proves: true },
    { sql: `SELECT ${P}, pg_advisory_xact_lock(${a + 2})`, role: 'write', proves: true },
    { sql: `SELECT ${P}, pg_try_advisory_xact_lock_shared(${a + 3})`, role: 'write', proves: true },
    {
      sql: `SELECT ${P}, txid_current()`,
      role: 'write',
      reason: 'classified:txid_current',
      proves: true,
    },
    { sql: `SELECT ${P}, pg_current_xact_id()`, role: 'write', proves: true },
    { sql: `SELECT ${P}, pg_current_wal_lsn()`, role: 'write', proves: true },
    {
      sql: `SELECT ${P}, set_config('application_name', 'koyo', false)`,
      role: 'write',
      proves: true,
    },
    { sql: `SELECT ${P}, pg_notify('koyo', 'x')`, role: 'write', proves: true },
    {
      sql: `SELECT ${P}, pg_logical_emit_message(true, 'koyo', 'x') IS NOT NULL AS m`,
      role: 'write',
      proves: true,
    },
    // ---- SELECT INTO, EXPLAIN ANALYZE -------------------------------------------------------
    {
      sql: `SELECT id, note INTO TEMP TABLE copied_${a} FROM items`,
      role: 'write',
      reason: 'classified:SELECT INTO',
    },
    {
      sql: `EXPLAIN ANALYZE SELECT * FROM items`,
      role: 'write',
      reason: 'classified:EXPLAIN ANALYZE',
    },
    {
      sql: `EXPLAIN (ANALYZE, COSTS OFF) SELECT 1`,
      role: 'write',
      reason: 'classified:EXPLAIN ANALYZE',
    },
    {
      sql: `EXPLAIN (ANALYZE true) DELETE FROM scratch WHERE id = -1`,
      role: 'write',
      reason: 'classified:DELETE',
    },
    // ---- utility statements -----------------------------------------------------------------
    { sql: `CREATE TABLE t_${a} (id int)`, role: 'write', reason: 'classified:CREATE' },
    { sql: `ALTER TABLE t_${a} ADD COLUMN note text`, role: 'write' },
    { sql: `COMMENT ON TABLE t_${a} IS 'SELECT only'`, role: 'write' },
    { sql: `GRANT SELECT ON t_${a} TO PUBLIC`, role: 'write' },
    { sql: `TRUNCATE t_${a}`, role: 'write' },
    { sql: `DROP TABLE t_${a}`, role: 'write' },
    { sql: `CREATE TEMP TABLE tmp_${a} AS SELECT 1 AS one`, role: 'write' },
    { sql: 'REFRESH MATERIALIZED VIEW mv', role: 'write' },
    { sql: 'VACUUM scratch', role: 'write' },
    { sql: 'ANALYZE scratch', role: 'write', reason: 'classified:ANALYZE' },
    { sql: 'REINDEX TABLE items', role: 'write' },
    { sql: 'CHECKPOINT', role: 'write' },
    { sql: 'CALL touch()', role: 'write', reason: 'classified:CALL' },
    { sql: `DO $$ BEGIN PERFORM 1; END $$`, role: 'write', reason: 'classified:DO' },
    { sql: 'LISTEN koyo', role: 'write', reason: 'classified:LISTEN' },
    { sql: "NOTIFY koyo, 'hello'", role: 'write', reason: 'classified:NOTIFY' },
    { sql: 'UNLISTEN *', role: 'write', reason: 'classified:UNLISTEN' },
    { sql: "SET statement_timeout = '0'", role: 'write', reason: 'classified:SET' },
    { sql: 'RESET statement_timeout', role: 'write', reason: 'classified:RESET' },
    { sql: `PREPARE p_${a} AS SELECT 1`, role: 'write', reason: 'classified:PREPARE' },
    { sql: `EXECUTE p_${a}`, role: 'write', reason: 'classified:EXECUTE' },
    { sql: `EXPLAIN EXECUTE p_${a}`, role: 'write', reason: 'classified:EXPLAIN EXECUTE' },
    { sql: `DEALLOCATE p_${a}`, role: 'write' },
    { sql: `PREPARE w_${a} (int) AS INSERT INTO scratch VALUES ($1)`, role: 'write' },
    { sql: `EXECUTE w_${a}(1)`, role: 'write' },
    { sql: 'DISCARD TEMP', role: 'write' },
    {
      sql: 'LOCK TABLE items IN ACCESS SHARE MODE',
      role: 'write',
      reason: 'classified:LOCK',
      tx: true,
    },
    {
      sql: `DECLARE c_${a} CURSOR FOR SELECT * FROM items`,
      role: 'write',
      reason: 'classified:DECLARE',
      tx: true,
    },
    { sql: `SAVEPOINT s_${a}`, role: 'write', tx: true },
    { sql: 'SELECT bump()', role: 'read', tx: true },
    // ---- multi-statement strings ------------------------------------------------------------
    { sql: 'SELECT 1; SELECT 2', role: 'write', reason: 'classified:multi-statement' },
    {
      sql: `SELECT 1; INSERT INTO scratch VALUES (${a}, 'multi')`,
      role: 'write',
      reason: 'classified:multi-statement',
    },
    {
      sql: `BEGIN; DECLARE m_${a} CURSOR FOR SELECT 1; FETCH m_${a}; CLOSE m_${a}; COMMIT`,
      role: 'write',
      reason: 'classified:multi-statement',
    },
  ];
}
