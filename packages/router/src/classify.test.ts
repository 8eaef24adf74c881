import { describe, expect, it } from 'vitest';
import { corpus } from '../test/_corpus.js';
import { classifySql, createClassifier } from './classify.js';
import { DEFAULT_VOLATILE_FUNCTIONS } from './functions.js';

const read = (sql: string): void => {
  expect(classifySql(sql).role, sql).toBe('read');
};
const write = (sql: string, reason?: string): void => {
  const c = classifySql(sql);
  expect(c.role, sql).toBe('write');
  if (reason !== undefined) expect(c.reason, sql).toBe(`classified:${reason}`);
};

describe('classifySql', () => {
  it('classifies the whole DB corpus as the DB tests expect', () => {
    for (const entry of corpus(0)) {
      const c = classifySql(entry.sql);
      expect(c.role, entry.sql).toBe(entry.role);
      if (entry.reason !== undefined) expect(c.reason, entry.sql).toBe(entry.reason);
    }
  });

  it('reads only provable reads', () => {
    for (const sql of [
      'SELECT 1',
      'select 1',
      'WITH a AS (SELECT 1) SELECT * FROM a',
      'VALUES (1)',
      'TABLE t',
      'SHOW ALL',
      'EXPLAIN SELECT 1',
      '((SELECT 1))',
      '-- only a comment',
      '',
    ])
      read(sql);
    for (const sql of [
      'INSERT INTO t VALUES (1)',
      'UPDATE t SET a = 1',
      'DELETE FROM t',
      'COPY t TO STDOUT',
      'FETCH 1 FROM c',
      'frobnicate',
      '42',
      '(',
    ])
      write(sql);
  });

  it('never mistakes literals, identifiers and comments for code', () => {
    read(`SELECT 'FOR UPDATE', "for update", $$ nextval( $$, $a$ $$ DELETE $a$ FROM t`);
    read(`SELECT E'\\'; DELETE FROM t; \\\\' AS x`);
    read(`SELECT 'a''; DELETE FROM t' AS x`);
    read(`SELECT "a""; DELETE" FROM t`);
    read(`SELECT 1 /* a /* nested */ ; DELETE FROM t */`);
    read(`SELECT 1 -- ; DELETE FROM t`);
    read(`SELECT $1::int, $2`);
    read(`SELECT x$y FROM t`); // $ inside an identifier is not a dollar quote
    write(`SELECT 'unterminated`, 'unterminated literal or comment');
    write(`SELECT 1 /* unterminated`, 'unterminated literal or comment');
    write(`SELECT $$ unterminated`, 'unterminated literal or comment');
    write(`SELECT $q$ unterminated $Q$`, 'unterminated literal or comment'); // tags are case-sensitive
  });

  it('finds row locks in every spelling', () => {
    write('SELECT * FROM t FOR UPDATE', 'FOR UPDATE');
    write('select * from t for no key update skip locked', 'FOR NO KEY UPDATE');
    write('SELECT * FROM t FOR SHARE OF t NOWAIT', 'FOR SHARE');
    write('SELECT * FROM t FOR KEY SHARE', 'FOR KEY SHARE');
    write('SELECT * FROM t FOR\n-- c\nUPDATE', 'FOR UPDATE');
    read('SELECT substring(a FROM 1 FOR 2) FROM t');
    read('SELECT t.for, t.update FROM t');
  });

  it('finds data-modifying statements, SELECT INTO and volatile functions', () => {
    write('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'writable CTE');
    write('WITH s AS (SELECT 1) INSERT INTO t SELECT * FROM s', 'writable CTE');
    write('SELECT * INTO t2 FROM t', 'SELECT INTO');
    write('SELECT nextval($1)', 'nextval');
    write("SELECT pg_catalog.setval('s', 1)", 'setval');
    write('SELECT "currval"(\'s\')', 'currval');
    write('SELECT pg_try_advisory_lock_shared(1)', 'pg_try_advisory_lock_shared');
    write('SELECT pg_advisory_something_new(1)', 'pg_advisory_something_new'); // prefix entry
    write('SELECT txid_current()', 'txid_current');
    read('SELECT "NEXTVAL"(1)'); // a different (quoted, upper-case) function
    read('SELECT nextval FROM t'); // a column, not a call
  });

  it('treats EXPLAIN by its options', () => {
    read('EXPLAIN (COSTS OFF, FORMAT JSON) SELECT 1');
    read("EXPLAIN (ANALYZE 'off') SELECT 1");
    read('EXPLAIN (ANALYZE 0) SELECT 1');
    write('EXPLAIN ANALYZE SELECT 1', 'EXPLAIN ANALYZE');
    write('EXPLAIN ANALYSE VERBOSE SELECT 1', 'EXPLAIN ANALYZE');
    write('EXPLAIN (ANALYZE on, BUFFERS) SELECT 1', 'EXPLAIN ANALYZE');
    write('EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'INSERT');
    write('EXPLAIN EXECUTE p', 'EXPLAIN EXECUTE');
    write('EXPLAIN', 'EXPLAIN (malformed)');
  });

  it('reports transaction control', () => {
    expect(classifySql('BEGIN').transactionControl).toBe('begin');
    expect(classifySql('start transaction isolation level serializable').transactionControl).toBe(
      'begin',
    );
    expect(classifySql('COMMIT').transactionControl).toBe('commit');
    expect(classifySql('END').transactionControl).toBe('commit');
    expect(classifySql('ROLLBACK').transactionControl).toBe('rollback');
    expect(classifySql('ABORT').transactionControl).toBe('rollback');
    expect(classifySql('ROLLBACK TO SAVEPOINT a').transactionControl).toBeNull();
    expect(classifySql("COMMIT PREPARED 'x'").transactionControl).toBeNull();
    expect(classifySql('SELECT 1; BEGIN').transactionControl).toBe('begin');
    expect(classifySql('SELECT 1').transactionControl).toBeNull();
  });

  it('treats any multi-statement string as a write', () => {
    write('SELECT 1; SELECT 2', 'multi-statement');
    read('SELECT 1;;');
  });

  it('takes a custom volatile-function list', () => {
    const classifier = createClassifier({
      volatileFunctions: [...DEFAULT_VOLATILE_FUNCTIONS, 'audit_write', 'app_*'],
    });
    expect(classifier.classify('SELECT audit_write(1)')).toMatchObject({
      role: 'write',
      reason: 'classified:audit_write',
    });
    expect(classifier.classify('SELECT app_touch()')).toMatchObject({
      role: 'write',
      reason: 'classified:app_touch',
    });
    expect(classifier.classify('SELECT nextval(1)').role).toBe('write');
    expect(classifySql('SELECT audit_write(1)').role).toBe('read');
    expect(() => createClassifier({ volatileFunctions: ['bad name'] })).toThrow(
      /volatileFunctions/,
    );
  });
});
