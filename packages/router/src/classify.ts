import { compileFunctions, DEFAULT_VOLATILE_FUNCTIONS, type FunctionTable } from './functions.js';
import {
  SqlScanner,
  TK_COMMA,
  TK_DOT,
  TK_EOF,
  TK_LPAREN,
  TK_NUMBER,
  TK_QIDENT,
  TK_RPAREN,
  TK_SEMI,
  TK_STRING,
  TK_UNTERMINATED,
  TK_WORD,
  hashStep,
} from './lexer.js';
import {
  COMMIT_PREPARED,
  EMPTY,
  EXPLAIN_ANALYZE,
  EXPLAIN_EXECUTE,
  EXPLAIN_MALFORMED,
  FOR_KEY_SHARE,
  FOR_NO_KEY_UPDATE,
  FOR_SHARE,
  FOR_UPDATE,
  KEYWORDS,
  K_ANALYZE,
  K_COMMIT,
  K_DELETE,
  K_EXECUTE,
  K_EXPLAIN,
  K_FALSE,
  K_FOR,
  K_INSERT,
  K_INTO,
  K_KEY,
  K_MERGE,
  K_NO,
  K_OFF,
  K_PREPARED,
  K_ROLLBACK,
  K_SELECT,
  K_SHARE,
  K_TABLE,
  K_TO,
  K_UPDATE,
  K_VALUES,
  K_VERBOSE,
  K_WITH,
  MULTI,
  MULTI_BEGIN,
  NESTED_WRITE,
  READ_EXPLAIN,
  ROLLBACK_PREPARED,
  ROLLBACK_TO,
  SELECT_INTO,
  UNRECOGNIZED,
  UNTERMINATED,
  WITH_INTO,
  WRITABLE_CTE,
  verdict,
  type Keyword,
  type Classification,
} from './classify-keywords.js';
export type { Classification, TransactionControl } from './classify-keywords.js';

/** Options of {@link createClassifier}. */
export interface ClassifierOptions {
  /**
   * Functions that make a statement a write. Default {@link DEFAULT_VOLATILE_FUNCTIONS}; pass
   * `[...DEFAULT_VOLATILE_FUNCTIONS, 'my_fn']` to add yours. `name*` matches a prefix.
   */
  volatileFunctions?: readonly string[];
}

/** A compiled classifier: {@link createClassifier}. */
export interface Classifier {
  /** Classifies one SQL string (which may hold several statements). Never throws. */
  classify(sql: string): Classification;
}

const scanner = new SqlScanner();

/**
 * Builds a classifier with its own list of volatile functions.
 *
 * @example
 * const classifier = createClassifier({ volatileFunctions: [...DEFAULT_VOLATILE_FUNCTIONS, 'bump_counter'] });
 * classifier.classify('SELECT bump_counter(1)'); // { role: 'write', reason: 'classified:bump_counter', ... }
 */
export function createClassifier(options: ClassifierOptions = {}): Classifier {
  const functions = compileFunctions(options.volatileFunctions ?? DEFAULT_VOLATILE_FUNCTIONS);
  return { classify: (sql: string) => classifyWith(functions, sql) };
}

const defaultFunctions = compileFunctions(DEFAULT_VOLATILE_FUNCTIONS);

/**
 * Classifies SQL text as a provable read or a write, with a real PostgreSQL lexer (comments, all
 * string forms, dollar quotes, quoted identifiers). Reads are SELECT / WITH / VALUES / TABLE / SHOW /
 * EXPLAIN without ANALYZE that contain no row-locking clause, no data-modifying statement, no
 * `INTO`, and no call of a {@link DEFAULT_VOLATILE_FUNCTIONS volatile function}; everything else,
 * including a string with more than one statement, is a write. Allocation-free on the common path.
 *
 * @example
 * classifySql('SELECT * FROM jobs FOR UPDATE SKIP LOCKED'); // { role: 'write', reason: 'classified:FOR UPDATE', ... }
 * classifySql("SELECT 'FOR UPDATE' -- nextval(\n FROM t");   // { role: 'read', reason: 'classified:SELECT', ... }
 */
export function classifySql(sql: string): Classification {
  return classifyWith(defaultFunctions, sql);
}

function lookupKeyword(s: SqlScanner): Keyword | undefined {
  const length = s.end - s.start;
  if (length < 2 || length > 10) return undefined; // keywords are 2 to 10 letters
  let entry = KEYWORDS.get(s.wordHash());
  while (entry !== undefined && !s.wordIs(entry.text)) entry = entry.next;
  return entry;
}

function classifyWith(functions: FunctionTable, sql: string): Classification {
  const s = scanner;
  s.reset(sql);
  let first: Classification | undefined;
  let count = 0;
  let anyBegin = false;
  for (;;) {
    let k = s.next();
    while (k === TK_SEMI) k = s.next();
    if (k === TK_EOF) break;
    const result = statement(s, functions);
    if (result === UNTERMINATED) {
      s.reset('');
      return UNTERMINATED;
    }
    if (result.transactionControl === 'begin') anyBegin = true;
    if (++count === 1) first = result;
  }
  s.reset('');
  if (count === 0 || first === undefined) return EMPTY;
  if (count > 1) return anyBegin ? MULTI_BEGIN : MULTI;
  return first;
}

/** Consumes tokens to the end of the statement; false when a literal never ends. */
function skipToEnd(s: SqlScanner): boolean {
  let k = s.kind;
  while (k !== TK_SEMI && k !== TK_EOF) {
    if (k === TK_UNTERMINATED) return false;
    k = s.next();
  }
  return true;
}

function finish(s: SqlScanner, result: Classification): Classification {
  return skipToEnd(s) ? result : UNTERMINATED;
}

/** Classifies the statement starting at the current token and consumes it with its `;`. */
function statement(s: SqlScanner, functions: FunctionTable): Classification {
  let k = s.kind;
  while (k === TK_LPAREN) k = s.next();
  if (k === TK_UNTERMINATED) return UNTERMINATED;
  if (k !== TK_WORD) return finish(s, UNRECOGNIZED);
  const entry = lookupKeyword(s);
  if (entry === undefined) {
    const word = s.src.slice(s.start, s.end).toUpperCase();
    s.next();
    return finish(s, verdict('write', word, word));
  }
  switch (entry.id) {
    case K_SELECT:
    case K_WITH:
    case K_VALUES:
    case K_TABLE:
      return readBody(s, functions, entry.first, entry.id === K_WITH);
    case K_EXPLAIN:
      return explain(s, functions);
    case K_COMMIT:
    case K_ROLLBACK: {
      s.next();
      if (s.kind === TK_WORD) {
        const next = lookupKeyword(s);
        if (next?.id === K_PREPARED)
          return finish(s, entry.id === K_COMMIT ? COMMIT_PREPARED : ROLLBACK_PREPARED);
        if (next?.id === K_TO && entry.id === K_ROLLBACK) return finish(s, ROLLBACK_TO);
      }
      return finish(s, entry.first);
    }
    default:
      s.next();
      return finish(s, entry.first);
  }
}

/**
 * The rest of a SELECT / WITH / VALUES / TABLE statement: looks for row locks, `INTO`,
 * data-modifying statements and volatile function calls.
 */
function readBody(
  s: SqlScanner,
  functions: FunctionTable,
  read: Classification,
  isWith: boolean,
): Classification {
  let result = read;
  let prevKind = TK_WORD;
  let prevStart = s.start;
  let prevEnd = s.end;
  // 0: none; 1: after FOR; 2: FOR NO; 3: FOR KEY; 4: FOR NO KEY
  let lock = 0;
  for (;;) {
    const k = s.next();
    if (k === TK_SEMI || k === TK_EOF) return result;
    if (k === TK_UNTERMINATED) return UNTERMINATED;
    if (result !== read) continue;
    if (k === TK_WORD) {
      if (prevKind !== TK_DOT) {
        // Only 2- to 6-letter words matter here (NO, FOR, KEY, INTO, SHARE, MERGE, UPDATE, INSERT, DELETE).
        const length = s.end - s.start;
        const entry = length >= 2 && length <= 6 ? lookupKeyword(s) : undefined;
        const id = entry === undefined ? 0 : entry.id;
        if (lock !== 0) {
          if (lock === 1) {
            lock = id === K_NO ? 2 : id === K_KEY ? 3 : 0;
            if (id === K_UPDATE) result = FOR_UPDATE;
            else if (id === K_SHARE) result = FOR_SHARE;
          } else if (lock === 2) {
            lock = id === K_KEY ? 4 : 0;
          } else if (lock === 3) {
            lock = 0;
            if (id === K_SHARE) result = FOR_KEY_SHARE;
          } else {
            lock = 0;
            if (id === K_UPDATE) result = FOR_NO_KEY_UPDATE;
          }
        } else if (id === K_FOR) {
          lock = 1;
        } else if (id === K_INTO) {
          result = isWith ? WITH_INTO : SELECT_INTO;
        } else if (id === K_INSERT || id === K_UPDATE || id === K_DELETE || id === K_MERGE) {
          result = isWith ? WRITABLE_CTE : (NESTED_WRITE[id] ?? WRITABLE_CTE);
        }
      } else {
        lock = 0;
      }
      prevStart = s.start;
      prevEnd = s.end;
    } else {
      lock = 0;
      if (k === TK_LPAREN && (prevKind === TK_WORD || prevKind === TK_QIDENT)) {
        const hit = volatileCall(s.src, functions, prevKind === TK_QIDENT, prevStart, prevEnd);
        if (hit !== undefined) result = hit;
      } else if (k === TK_QIDENT) {
        prevStart = s.start;
        prevEnd = s.end;
      }
    }
    prevKind = k;
  }
}

const prefixVerdicts = new Map<string, Classification>();

/** The verdict for calling the function named by the token at [start, end), if it is volatile. */
function volatileCall(
  src: string,
  functions: FunctionTable,
  quoted: boolean,
  start: number,
  end: number,
): Classification | undefined {
  const from = quoted ? start + 1 : start;
  const to = quoted ? end - 1 : end;
  const n = to - from;
  let hash = 0;
  for (let i = from; i < to; i++) {
    let c = src.charCodeAt(i);
    if (!quoted && c >= 65 && c <= 90) c += 32;
    hash = hashStep(hash, c);
  }
  let entry = functions.exact.get(hash);
  while (entry !== undefined) {
    if (entry.name.length === n && sameName(src, from, entry.name, quoted)) {
      return verdictFor(entry.reason);
    }
    entry = entry.next;
  }
  for (const prefix of functions.prefixes) {
    if (n >= prefix.length && sameName(src, from, prefix, quoted)) {
      const name = quoted ? src.slice(from, to) : src.slice(from, to).toLowerCase();
      return verdictFor(`classified:${name}`);
    }
  }
  return undefined;
}

function verdictFor(reason: string): Classification {
  let found = prefixVerdicts.get(reason);
  if (found === undefined) {
    found = Object.freeze({
      role: 'write' as const,
      reason,
      command: 'SELECT',
      transactionControl: null,
    });
    // bounded: the set of function names that reach here is the configured list plus prefix hits
    if (prefixVerdicts.size < 4096) prefixVerdicts.set(reason, found);
  }
  return found;
}

function sameName(src: string, from: number, name: string, quoted: boolean): boolean {
  for (let i = 0; i < name.length; i++) {
    let c = src.charCodeAt(from + i);
    if (!quoted && c >= 65 && c <= 90) c += 32;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** EXPLAIN [ ( options ) | ANALYZE | VERBOSE ]... statement */
function explain(s: SqlScanner, functions: FunctionTable): Classification {
  let k = s.next();
  let analyze = false;
  if (k === TK_LPAREN) {
    let depth = 1;
    let expectName = true;
    let pending = false; // just read ANALYZE, its value (if any) comes next
    for (;;) {
      k = s.next();
      if (k === TK_EOF || k === TK_SEMI) return EXPLAIN_MALFORMED;
      if (k === TK_UNTERMINATED) return UNTERMINATED;
      if (k === TK_LPAREN) {
        depth++;
        continue;
      }
      if (k === TK_RPAREN || k === TK_COMMA) {
        if (pending) analyze = true;
        pending = false;
        if (k === TK_RPAREN && --depth === 0) break;
        if (k === TK_COMMA) expectName = true;
        continue;
      }
      if (expectName && k === TK_WORD) {
        expectName = false;
        pending = lookupKeyword(s)?.id === K_ANALYZE;
        continue;
      }
      if (pending) {
        pending = false;
        if (!isFalse(s, k)) analyze = true;
      }
    }
    k = s.next();
  } else {
    while (k === TK_WORD) {
      const id = lookupKeyword(s)?.id;
      if (id === K_ANALYZE) analyze = true;
      else if (id !== K_VERBOSE) break;
      k = s.next();
    }
  }
  if (k === TK_EOF || k === TK_SEMI) return EXPLAIN_MALFORMED;
  if (k === TK_UNTERMINATED) return UNTERMINATED;
  if (analyze) {
    // EXPLAIN ANALYZE runs the statement. Only EXPLAIN without ANALYZE counts as a provable read;
    // a write inside keeps its own reason, anything else is reported as EXPLAIN ANALYZE.
    const inner = statement(s, functions);
    return inner.role === 'read' ? EXPLAIN_ANALYZE : inner;
  }
  // Without ANALYZE nothing runs; only EXECUTE needs the session that prepared the statement.
  if (k === TK_WORD && lookupKeyword(s)?.id === K_EXECUTE) return finish(s, EXPLAIN_EXECUTE);
  return finish(s, READ_EXPLAIN);
}

/** A boolean option value that is false: FALSE, OFF, 0, 'false', 'off', '0'. */
function isFalse(s: SqlScanner, k: number): boolean {
  if (k === TK_WORD) {
    const id = lookupKeyword(s)?.id;
    return id === K_FALSE || id === K_OFF;
  }
  if (k === TK_NUMBER) return s.end - s.start === 1 && s.src.charCodeAt(s.start) === 48;
  if (k === TK_STRING && s.src.charCodeAt(s.start) === 39) {
    const inner = s.src.slice(s.start + 1, s.end - 1).toLowerCase();
    return inner === 'false' || inner === 'off' || inner === '0';
  }
  return false;
}
