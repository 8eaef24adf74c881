/**
 * A PostgreSQL SQL tokenizer for routing decisions: allocation-free, one shared cursor.
 *
 * It knows exactly as much of PostgreSQL's lexical rules as it takes to never mistake the inside
 * of a literal or a comment for code: `--` and nested `/* *\/` comments, `'...'` strings with `''`,
 * `E'...'` strings with backslash escapes, dollar quotes with or without a tag (`$$...$$`,
 * `$fn$...$fn$`), `"quoted identifiers"` with `""`, positional parameters (`$1`), numbers, and
 * single-character punctuation. Words get a case-folded 32-bit hash on demand (`wordHash()`), so
 * keyword and function look-ups need no substring.
 *
 * @internal
 */

/** End of input. */
export const TK_EOF = 0;
/** An unquoted identifier or keyword (see `wordHash()`). */
export const TK_WORD = 1;
/** A `"quoted identifier"`. */
export const TK_QIDENT = 2;
/** A string constant of any kind (standard, `E''`, dollar-quoted). */
export const TK_STRING = 3;
/** A numeric constant. */
export const TK_NUMBER = 4;
/** A positional parameter such as `$1`. */
export const TK_PARAM = 5;
export const TK_LPAREN = 6;
export const TK_RPAREN = 7;
export const TK_SEMI = 8;
export const TK_COMMA = 9;
export const TK_DOT = 10;
/** Any other character (operators, brackets, `::`, ...), one at a time. */
export const TK_OP = 11;
/** A string, quoted identifier, dollar quote or comment that never ends. */
export const TK_UNTERMINATED = 12;

const C_SPACE = 1;
const C_IDENT_START = 2;
const C_DIGIT = 3;

/** Character classes of ASCII; everything >= 128 is a letter to PostgreSQL. */
const CLASS = new Uint8Array(128);
for (const c of [9, 10, 11, 12, 13, 32]) CLASS[c] = C_SPACE;
for (let c = 65; c <= 90; c++) CLASS[c] = C_IDENT_START;
for (let c = 97; c <= 122; c++) CLASS[c] = C_IDENT_START;
CLASS[95] = C_IDENT_START; // _
for (let c = 48; c <= 57; c++) CLASS[c] = C_DIGIT;

function isIdentStart(c: number): boolean {
  return c >= 128 ? true : CLASS[c] === C_IDENT_START;
}

function isIdentCont(c: number): boolean {
  if (c >= 128) return true;
  const k = CLASS[c];
  return k === C_IDENT_START || k === C_DIGIT || c === 36; // $ continues an identifier
}

/** Tag characters of a dollar quote: like an identifier, without `$`. */
function isTagCont(c: number): boolean {
  if (c >= 128) return true;
  const k = CLASS[c];
  return k === C_IDENT_START || k === C_DIGIT;
}

/** Hash step shared by the scanner and the tables that look words up. */
export function hashStep(h: number, c: number): number {
  return (Math.imul(h, 31) + c) | 0;
}

/** The hash the scanner computes for `text` (case-folded unless `raw`). */
export function hashText(text: string, raw = false): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (!raw && c >= 65 && c <= 90) c += 32;
    h = hashStep(h, c);
  }
  return h;
}

/**
 * The cursor. One instance is shared by every classification: `classifySql` is synchronous and
 * never re-entered, so reusing the fields avoids any allocation per token.
 */
export class SqlScanner {
  src = '';
  pos = 0;
  len = 0;
  /** Kind of the current token (one of the `TK_*` constants). */
  kind = TK_EOF;
  /** Start offset of the current token in `src`. */
  start = 0;
  /** End offset (exclusive) of the current token. */
  end = 0;

  reset(src: string): void {
    this.src = src;
    this.pos = 0;
    this.len = src.length;
    this.kind = TK_EOF;
    this.start = 0;
    this.end = 0;
  }

  /** Advances to the next token and returns its kind. */
  next(): number {
    const src = this.src;
    const len = this.len;
    let pos = this.pos;
    for (;;) {
      if (pos >= len) {
        this.pos = this.start = this.end = len;
        return (this.kind = TK_EOF);
      }
      const c = src.charCodeAt(pos);
      if (c < 128 && CLASS[c] === C_SPACE) {
        pos++;
        continue;
      }
      if (c === 45 /* - */ && src.charCodeAt(pos + 1) === 45) {
        pos += 2;
        while (pos < len) {
          const d = src.charCodeAt(pos);
          if (d === 10 || d === 13) break;
          pos++;
        }
        continue;
      }
      if (c === 47 /* / */ && src.charCodeAt(pos + 1) === 42 /* * */) {
        const start = pos;
        pos += 2;
        let depth = 1;
        while (pos < len) {
          const d = src.charCodeAt(pos);
          if (d === 42 && src.charCodeAt(pos + 1) === 47) {
            pos += 2;
            if (--depth === 0) break;
          } else if (d === 47 && src.charCodeAt(pos + 1) === 42) {
            pos += 2;
            depth++;
          } else {
            pos++;
          }
        }
        if (depth !== 0) return this.#unterminated(start);
        continue;
      }
      this.start = pos;
      if (isIdentStart(c)) {
        // E'...' / e'...': a string with backslash escapes.
        if ((c === 69 || c === 101) && src.charCodeAt(pos + 1) === 39)
          return this.#escapeString(pos + 2);
        pos++;
        while (pos < len && isIdentCont(src.charCodeAt(pos))) pos++;
        return this.#emit(TK_WORD, pos);
      }
      if (c < 128 && CLASS[c] === C_DIGIT) return this.#number(pos + 1);
      switch (c) {
        case 39: // '
          return this.#quoted(pos + 1, "'", TK_STRING);
        case 34: // "
          return this.#quoted(pos + 1, '"', TK_QIDENT);
        case 36: // $
          return this.#dollar(pos);
        case 40:
          return this.#emit(TK_LPAREN, pos + 1);
        case 41:
          return this.#emit(TK_RPAREN, pos + 1);
        case 59:
          return this.#emit(TK_SEMI, pos + 1);
        case 44:
          return this.#emit(TK_COMMA, pos + 1);
        case 46: {
          const d = src.charCodeAt(pos + 1);
          if (d >= 48 && d <= 57) return this.#number(pos + 1);
          return this.#emit(TK_DOT, pos + 1);
        }
        default:
          return this.#emit(TK_OP, pos + 1);
      }
    }
  }

  /** Case-folded hash of the current word (computed on demand: most words never need it). */
  wordHash(): number {
    const src = this.src;
    let h = 0;
    for (let i = this.start; i < this.end; i++) {
      let c = src.charCodeAt(i);
      if (c >= 65 && c <= 90) c += 32;
      h = (Math.imul(h, 31) + c) | 0;
    }
    return h;
  }

  /** True when the current word equals `lower` (ASCII case-insensitively). */
  wordIs(lower: string): boolean {
    const n = lower.length;
    if (this.end - this.start !== n) return false;
    const src = this.src;
    const base = this.start;
    for (let i = 0; i < n; i++) {
      let c = src.charCodeAt(base + i);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== lower.charCodeAt(i)) return false;
    }
    return true;
  }

  #emit(kind: number, end: number): number {
    this.pos = this.end = end;
    return (this.kind = kind);
  }

  #unterminated(start: number): number {
    this.start = start;
    this.pos = this.end = this.len;
    return (this.kind = TK_UNTERMINATED);
  }

  #number(pos: number): number {
    const src = this.src;
    const len = this.len;
    while (pos < len) {
      const c = src.charCodeAt(pos);
      // digits, '.', exponent/radix letters and '_' separators (PostgreSQL 16+): all one token
      if (c < 128 && (CLASS[c] === C_DIGIT || CLASS[c] === C_IDENT_START || c === 46)) pos++;
      else break;
    }
    return this.#emit(TK_NUMBER, pos);
  }

  /** A '...' string or "..." identifier; the delimiter is escaped by doubling it. */
  #quoted(pos: number, quote: string, kind: number): number {
    const src = this.src;
    for (;;) {
      const at = src.indexOf(quote, pos);
      if (at < 0) return this.#unterminated(this.start);
      if (src.charCodeAt(at + 1) === quote.charCodeAt(0)) {
        pos = at + 2;
        continue;
      }
      return this.#emit(kind, at + 1);
    }
  }

  #escapeString(pos: number): number {
    const src = this.src;
    const len = this.len;
    while (pos < len) {
      const c = src.charCodeAt(pos);
      if (c === 92 /* \ */) {
        pos += 2;
      } else if (c === 39) {
        if (src.charCodeAt(pos + 1) === 39) pos += 2;
        else return this.#emit(TK_STRING, pos + 1);
      } else {
        pos++;
      }
    }
    return this.#unterminated(this.start);
  }

  /** `$1`, `$$...$$`, `$tag$...$tag$`, or a lone `$`. */
  #dollar(pos: number): number {
    const src = this.src;
    const len = this.len;
    const d = src.charCodeAt(pos + 1);
    if (d >= 48 && d <= 57) {
      let p = pos + 2;
      while (p < len) {
        const e = src.charCodeAt(p);
        if (e >= 48 && e <= 57) p++;
        else break;
      }
      return this.#emit(TK_PARAM, p);
    }
    if (d === 36) {
      const close = src.indexOf('$$', pos + 2);
      if (close < 0) return this.#unterminated(pos);
      return this.#emit(TK_STRING, close + 2);
    }
    if (pos + 1 < len && isIdentStart(d)) {
      let p = pos + 2;
      while (p < len && isTagCont(src.charCodeAt(p))) p++;
      if (src.charCodeAt(p) === 36) {
        // $tag$ ... $tag$: the tag spans [pos, p] inclusive.
        const tagLen = p - pos + 1;
        let search = p + 1;
        for (;;) {
          const at = src.indexOf('$', search);
          if (at < 0 || at + tagLen > len) return this.#unterminated(pos);
          let same = true;
          for (let i = 1; i < tagLen; i++) {
            if (src.charCodeAt(at + i) !== src.charCodeAt(pos + i)) {
              same = false;
              break;
            }
          }
          if (same) return this.#emit(TK_STRING, at + tagLen);
          search = at + 1;
        }
      }
    }
    return this.#emit(TK_OP, pos + 1);
  }
}
