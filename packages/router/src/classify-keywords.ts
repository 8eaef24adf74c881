import { hashText } from './lexer.js';

// The classifier's vocabulary: its verdicts and the keywords it knows, by id and by hash. Kept apart
// from the scanner-driven classification (classify.ts) so each file holds one idea.
/** What a statement does to a transaction, for `skipTransactions` / `blockTransactions`. */
export type TransactionControl = 'begin' | 'commit' | 'rollback' | null;

/**
 * The verdict on one SQL string. Results are shared frozen objects: compare fields, not identity.
 */
export interface Classification {
  /** `read` only for provable reads; everything else is `write` (goes to the primary). */
  readonly role: 'read' | 'write';
  /** Why, e.g. `classified:SELECT`, `classified:FOR UPDATE`, `classified:nextval`, `classified:multi-statement`. */
  readonly reason: string;
  /** The statement's first keyword in upper case (`SELECT`, `INSERT`, ...), or `MULTI`, `EMPTY`, `UNKNOWN`. */
  readonly command: string;
  /**
   * `begin` for BEGIN / START TRANSACTION (also a multi-statement string that contains one),
   * `commit` for COMMIT / END, `rollback` for ROLLBACK / ABORT (not `ROLLBACK TO SAVEPOINT`), else null.
   */
  readonly transactionControl: TransactionControl;
}

/** A frozen verdict (shared by every statement that gets it). */
export function verdict(
  role: 'read' | 'write',
  reason: string,
  command: string,
  transactionControl: TransactionControl = null,
): Classification {
  return Object.freeze({ role, reason: `classified:${reason}`, command, transactionControl });
}

export const K_SELECT = 1;
export const K_WITH = 2;
export const K_VALUES = 3;
export const K_TABLE = 4;
export const K_SHOW = 5;
export const K_EXPLAIN = 6;
export const K_FOR = 10;
export const K_UPDATE = 11;
export const K_SHARE = 12;
export const K_NO = 13;
export const K_KEY = 14;
export const K_INTO = 15;
export const K_INSERT = 16;
export const K_DELETE = 17;
export const K_MERGE = 18;
export const K_ANALYZE = 20;
export const K_VERBOSE = 22;
export const K_FALSE = 24;
export const K_OFF = 26;
export const K_EXECUTE = 27;
export const K_BEGIN = 30;
export const K_START = 31;
export const K_COMMIT = 32;
export const K_ROLLBACK = 34;
export const K_TO = 36;
export const K_PREPARED = 37;
export const K_OTHER = 99;

/** A keyword the classifier knows: its text, id, the verdict when it starts a statement, and the next keyword of the same hash. */
export interface Keyword {
  readonly text: string;
  readonly id: number;
  /** The verdict when this word starts a statement. */
  readonly first: Classification;
  next: Keyword | undefined;
}

export const READ_SELECT = verdict('read', 'SELECT', 'SELECT');
export const READ_WITH = verdict('read', 'WITH', 'WITH');
export const READ_VALUES = verdict('read', 'VALUES', 'VALUES');
export const READ_TABLE = verdict('read', 'TABLE', 'TABLE');
export const READ_SHOW = verdict('read', 'SHOW', 'SHOW');
export const READ_EXPLAIN = verdict('read', 'EXPLAIN', 'EXPLAIN');
export const EXPLAIN_ANALYZE = verdict('write', 'EXPLAIN ANALYZE', 'EXPLAIN');
export const EMPTY = verdict('read', 'empty', 'EMPTY');
export const MULTI = verdict('write', 'multi-statement', 'MULTI');
export const MULTI_BEGIN = verdict('write', 'multi-statement', 'MULTI', 'begin');
export const UNTERMINATED = verdict('write', 'unterminated literal or comment', 'UNKNOWN');
export const UNRECOGNIZED = verdict('write', 'unrecognized statement', 'UNKNOWN');
export const EXPLAIN_MALFORMED = verdict('write', 'EXPLAIN (malformed)', 'EXPLAIN');
export const EXPLAIN_EXECUTE = verdict('write', 'EXPLAIN EXECUTE', 'EXPLAIN');
export const SELECT_INTO = verdict('write', 'SELECT INTO', 'SELECT');
export const WITH_INTO = verdict('write', 'SELECT INTO', 'WITH');
export const BEGIN = verdict('write', 'BEGIN', 'BEGIN', 'begin');
export const START = verdict('write', 'START TRANSACTION', 'START', 'begin');
export const COMMIT = verdict('write', 'COMMIT', 'COMMIT', 'commit');
export const END = verdict('write', 'END', 'END', 'commit');
export const COMMIT_PREPARED = verdict('write', 'COMMIT PREPARED', 'COMMIT');
export const ROLLBACK = verdict('write', 'ROLLBACK', 'ROLLBACK', 'rollback');
export const ABORT = verdict('write', 'ABORT', 'ABORT', 'rollback');
export const ROLLBACK_TO = verdict('write', 'ROLLBACK TO SAVEPOINT', 'ROLLBACK');
export const ROLLBACK_PREPARED = verdict('write', 'ROLLBACK PREPARED', 'ROLLBACK');

export const FOR_UPDATE = verdict('write', 'FOR UPDATE', 'SELECT');
export const FOR_NO_KEY_UPDATE = verdict('write', 'FOR NO KEY UPDATE', 'SELECT');
export const FOR_SHARE = verdict('write', 'FOR SHARE', 'SELECT');
export const FOR_KEY_SHARE = verdict('write', 'FOR KEY SHARE', 'SELECT');

/** Data-modifying words inside a read-shaped statement, by keyword id, for WITH and for the rest. */
export const WRITABLE_CTE = verdict('write', 'writable CTE', 'WITH');
export const NESTED_WRITE: Record<number, Classification> = {
  [K_INSERT]: verdict('write', 'INSERT', 'SELECT'),
  [K_UPDATE]: verdict('write', 'UPDATE', 'SELECT'),
  [K_DELETE]: verdict('write', 'DELETE', 'SELECT'),
  [K_MERGE]: verdict('write', 'MERGE', 'SELECT'),
};

export const KEYWORDS = new Map<number, Keyword>();

function keyword(text: string, id: number, first?: Classification): void {
  const upper = text.toUpperCase();
  const hash = hashText(text);
  KEYWORDS.set(hash, {
    text,
    id,
    first: first ?? verdict('write', upper, upper),
    next: KEYWORDS.get(hash),
  });
}

/** Registers statement-starting words by their verdicts (the word is the verdict's command). */
function starters(...pairs: (readonly [id: number, first: Classification])[]): void {
  for (const [id, first] of pairs) keyword(first.command.toLowerCase(), id, first);
}

/** Registers words the classifier looks for after the first (as first words: writes). */
function words(ids: Readonly<Record<string, number>>): void {
  for (const [text, id] of Object.entries(ids)) keyword(text, id);
}

// The reads.
starters([K_SELECT, READ_SELECT], [K_WITH, READ_WITH], [K_VALUES, READ_VALUES]);
starters([K_TABLE, READ_TABLE], [K_SHOW, READ_SHOW], [K_EXPLAIN, READ_EXPLAIN]);
// Row locks: FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE.
words({ for: K_FOR, update: K_UPDATE, share: K_SHARE, no: K_NO, key: K_KEY });
// SELECT INTO, and the writes a read-shaped statement may hold (writable CTEs).
words({ into: K_INTO, insert: K_INSERT, delete: K_DELETE, merge: K_MERGE });
// EXPLAIN options that run the statement (ANALYZE unless false/off), and EXPLAIN EXECUTE.
words({ analyze: K_ANALYZE, analyse: K_ANALYZE, verbose: K_VERBOSE, false: K_FALSE, off: K_OFF });
words({ execute: K_EXECUTE });
// Transaction control: END is COMMIT's synonym and ABORT ROLLBACK's, so they share its id.
starters([K_BEGIN, BEGIN], [K_START, START], [K_COMMIT, COMMIT], [K_COMMIT, END]);
starters([K_ROLLBACK, ROLLBACK], [K_ROLLBACK, ABORT]);
// ROLLBACK TO SAVEPOINT, COMMIT PREPARED, ROLLBACK PREPARED.
words({ to: K_TO, prepared: K_PREPARED });

/** Other statement-starting words: writes of their own command, never looked at further. */
const OTHER = `create alter drop truncate savepoint release prepare deallocate listen notify unlisten
  call do lock set reset copy declare fetch move close vacuum cluster reindex refresh grant revoke
  comment security import load discard checkpoint reassign`;

for (const word of OTHER.split(/\s+/)) keyword(word, K_OTHER);
