/**
 * A single-pass SQL lexer that turns statement text into a literal-free canonical form.
 *
 * It is the one place that knows how literals are spelled, and it serves three purposes:
 * - the cache key on the hot path (texts that differ only in literals, comments, whitespace or
 *   IN-list length share one key, so the real parser runs once per shape);
 * - the safety net over libpg-query's `normalize` output, which keeps comments and leaves
 *   literals in utility statements (`COMMENT ON … IS 'x'`, `COPY t FROM '/path'`, `PREPARE`);
 * - the whole normalizer for other databases and for text the PostgreSQL parser rejects.
 *
 * In the canonical form every literal is LITERAL and every `$n` parameter is PARAM followed by
 * its digits. Both are control characters, which the lexer turns into spaces everywhere else, so
 * the markers cannot be forged by the input.
 */

export type SqlDialect = 'pg' | 'mysql' | 'generic';

/** Marks a literal (string, dollar-quoted string, number, `?` placeholder) in canonical text. */
export const LITERAL = '\u0001';
/** Marks a `$n` parameter; the digits follow it. */
export const PARAM = '\u0002';

const PG_SYSTEMS = new Set(['postgresql', 'postgres', 'pg']);
const MYSQL_SYSTEMS = new Set(['mysql', 'mariadb']);

/** Lexing rules for a `db.system(.name)` value. */
export function dialectOf(system: string): SqlDialect {
  const s = system.toLowerCase();
  if (PG_SYSTEMS.has(s)) return 'pg';
  if (MYSQL_SYSTEMS.has(s)) return 'mysql';
  return 'generic';
}

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Letters that prefix a string literal: E'' (escapes), B'' / X'' (bit strings), N'' (national). */
function isStringPrefix(c: number): boolean {
  return c === 69 || c === 101 || c === 66 || c === 98 || c === 88 || c === 120 || c === 78 || c === 110;
}

/** Index just past a quoted run opened at `start` (a doubled quote escapes; optionally `\` too). */
function skipQuoted(text: string, start: number, quote: number, backslash: boolean): number {
  const n = text.length;
  let i = start + 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (backslash && c === 92) {
      i += 2;
    } else if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  // Unterminated: the rest of the text is the literal, so nothing after the quote leaks.
  return n;
}

/** Index just past a dollar-quoted string opened at `start`, or -1 when `$` opens none. */
function skipDollarQuoted(text: string, start: number): number {
  let j = start + 1;
  const n = text.length;
  if (j < n && text.charCodeAt(j) !== 36) {
    if (!isIdentStart(text.charCodeAt(j))) return -1;
    while (j < n && isIdentPart(text.charCodeAt(j)) && text.charCodeAt(j) !== 36) j++;
    if (text.charCodeAt(j) !== 36) return -1;
  }
  const tag = text.slice(start, j + 1);
  const end = text.indexOf(tag, j + 1);
  return end < 0 ? n : end + tag.length;
}

/** Index just past a number starting at `start` (decimal, 0x/0o/0b, `_` separators, exponent). */
function skipNumber(text: string, start: number): number {
  const n = text.length;
  let i = start;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isIdentPart(c) || c === 46) {
      // An exponent may carry a sign: 1e-5, 2.5E+3.
      if ((c === 101 || c === 69) && (text.charCodeAt(i + 1) === 43 || text.charCodeAt(i + 1) === 45)) i++;
      i++;
    } else {
      return i;
    }
  }
  return i;
}

/** Index of the end of a `/* … *\/` comment at `start` (nested in PostgreSQL). */
function skipBlockComment(text: string, start: number, nested: boolean): number {
  const n = text.length;
  let depth = 1;
  let i = start + 2;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 42 && text.charCodeAt(i + 1) === 47) {
      i += 2;
      if (--depth === 0) return i;
    } else if (nested && c === 47 && text.charCodeAt(i + 1) === 42) {
      depth++;
      i += 2;
    } else {
      i++;
    }
  }
  return n;
}

function skipLine(text: string, start: number): number {
  const n = text.length;
  let i = start;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
    i++;
  }
  return n;
}

// Character classes for the scanner's dispatch (ASCII; everything ≥ 128 is an identifier
// character except NBSP). A table look-up instead of a chain of comparisons halves the scan.
const OTHER = 0;
const SPACE = 1;
const IDENT = 2;
const DIGIT = 3;
const SPECIAL = 4; // ' " ` $ ? - # / .
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  // Control characters count as space, so LITERAL/PARAM can never come from the input.
  if (c <= 32 || c === 127) CLASS[c] = SPACE;
  else if (isIdentStart(c)) CLASS[c] = IDENT;
  else if (isDigit(c)) CLASS[c] = DIGIT;
  else if ('\'"`$?-#/.'.includes(String.fromCharCode(c))) CLASS[c] = SPECIAL;
  else CLASS[c] = OTHER;
}

/** 1 for ASCII characters that continue an identifier: letters, digits, `_`, `$`. */
const IDENT_PART = new Uint8Array(128);
for (let c = 0; c < 128; c++) IDENT_PART[c] = isIdentPart(c) ? 1 : 0;

function classOf(c: number): number {
  return c < 128 ? CLASS[c] : c === 160 ? SPACE : IDENT;
}

// The scan's output state lives at module level rather than in a closure: scanSql is
// synchronous (never re-entered), and a per-call closure cost ~15% of the scan.
let text = '';
let out = '';
let from = 0; // start of the verbatim run not yet copied to `out`
let space = false; // whitespace seen since the last token
/** False: `out` is built (scanSql). True: the output is only hashed (hashCanonical). */
let hashing = false;
let hash1 = 0;
let hash2 = 0;
let hashedLength = 0;
let lastHashed = 32;
/** The output so far ends in a space not yet hashed (see flushHashed). */
let heldSpace = false;

/**
 * Copies the pending verbatim run up to `to`, then `marker` (if any), honouring a pending space.
 * Returns the last character code of the output (32 when it ends in a space or is empty).
 */
function flush(to: number, marker: string): number {
  if (hashing) return flushHashed(to, marker);
  if (to > from) {
    out += space && out.length > 0 ? ` ${text.slice(from, to)}` : text.slice(from, to);
    space = false;
  }
  if (marker !== '') {
    out += space && out.length > 0 ? ` ${marker}` : marker;
    space = false;
  }
  return out.length > 0 ? out.charCodeAt(out.length - 1) : 32;
}

/** flush() for hashCanonical: the same characters, hashed instead of appended. */
function flushHashed(to: number, marker: string): number {
  if (to > from) {
    if (space && hashedLength > 0) hashChar(32);
    if (heldSpace) hashChar(32, true);
    // A run may end in the lone space scanSql trims at the very end: held until more output follows.
    const source = text;
    const last = source.charCodeAt(to - 1);
    const end = last === 32 ? to - 1 : to;
    // hashChar inlined by hand: locals instead of module-level state in the per-character loop.
    let h1 = hash1;
    let h2 = hash2;
    for (let k = from; k < end; k++) {
      const c = source.charCodeAt(k);
      h1 = Math.imul(h1 ^ c, 16777619);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 13;
    }
    hash1 = h1;
    hash2 = h2;
    hashedLength += to - from;
    heldSpace = last === 32;
    lastHashed = last;
    space = false;
  }
  if (marker !== '') {
    if (space && hashedLength > 0) hashChar(32);
    for (let k = 0; k < marker.length; k++) hashChar(marker.charCodeAt(k));
    space = false;
  }
  return hashedLength > 0 ? lastHashed : 32;
}

/**
 * Two independent 32-bit hashes (FNV-1a and a murmur-style mix) of the output, char by char; a
 * held space goes in first. `counted`: the character is in hashedLength already (the held space).
 */
function hashChar(c: number, counted = false): void {
  if (heldSpace && !counted) hashChar(32, true);
  heldSpace = false;
  hash1 = Math.imul(hash1 ^ c, 16777619);
  hash2 = Math.imul(hash2 ^ c, 0x5bd1e995);
  hash2 ^= hash2 >>> 13;
  if (!counted) hashedLength++;
  lastHashed = c;
}

/**
 * Canonical form of `input`: literals → LITERAL, `$n` → PARAM+n, comments dropped, whitespace
 * runs → one space, trimmed. Identifiers, keywords and operators are kept as written.
 */
export function scanSql(input: string, dialect: SqlDialect): string {
  hashing = false;
  out = '';
  lex(input, dialect);
  const result = out.charCodeAt(out.length - 1) === 32 ? out.slice(0, -1) : out;
  text = '';
  out = '';
  return result;
}

/**
 * A 64-bit hash of what scanSql(input, dialect) returns, without building it: `into` gets
 * [hash 1, hash 2, length]. The same lexer produces both, so equal hashes mean
 * equal canonical forms up to a 2^-64 collision — the identity pg_stat_statements gives queries
 * too. It lets the fingerprinter serve a literal-bearing text with no string built
 * (fingerprinter.ts).
 */
export function hashCanonical(input: string, dialect: SqlDialect, into: Int32Array): void {
  hashing = true;
  hash1 = -2128831035; // FNV offset basis
  hash2 = 0x2f1a3b5c;
  hashedLength = 0;
  lastHashed = 32;
  heldSpace = false;
  lex(input, dialect);
  hashing = false;
  text = '';
  // A space still held is the one scanSql trims.
  const length = heldSpace ? hashedLength - 1 : hashedLength;
  into[0] = hash1 ^ length;
  into[1] = hash2;
  into[2] = length;
}

/** The single lexer behind scanSql and hashCanonical: every output goes through flush(). */
function lex(input: string, dialect: SqlDialect): void {
  const pg = dialect === 'pg';
  const mysql = dialect === 'mysql';
  const n = input.length;
  text = input;
  from = 0;
  space = false;
  let i = 0;

  while (i < n) {
    const c = input.charCodeAt(i);
    const k = classOf(c);
    if (k === OTHER) {
      i++;
      // Runs of punctuation (`, `, `(`, `=`) need no decision each.
      while (i < n) {
        const d = input.charCodeAt(i);
        if (d >= 128 || CLASS[d] !== OTHER) break;
        i++;
      }
    } else if (k === IDENT) {
      let j = i + 1;
      while (j < n) {
        const d = input.charCodeAt(j);
        if (d < 128 ? IDENT_PART[d] === 0 : d === 160) break;
        j++;
      }
      const next = input.charCodeAt(j);
      if (j === i + 1 && next === 39 && isStringPrefix(c)) {
        // E'…' honours backslash escapes in PostgreSQL; MySQL strings always do.
        flush(i, LITERAL);
        i = skipQuoted(input, j, 39, mysql || c === 69 || c === 101);
        from = i;
      } else if (j === i + 1 && (c === 85 || c === 117) && next === 38 && input.charCodeAt(j + 1) === 39) {
        flush(i, LITERAL); // U&'…' Unicode escape string
        i = skipQuoted(input, j + 1, 39, false);
        from = i;
      } else {
        i = j;
      }
    } else if (k === SPACE) {
      if (c === 32 && !space && i > from && classOf(input.charCodeAt(i + 1)) !== SPACE) {
        i++; // a lone space inside a verbatim run is kept as is: most texts need no other copying
        continue;
      }
      space = flush(i, '') !== 32;
      i++;
      while (i < n && classOf(input.charCodeAt(i)) === SPACE) i++;
      from = i;
    } else if (k === DIGIT || (c === 46 && isDigit(input.charCodeAt(i + 1)))) {
      flush(i, LITERAL);
      i = skipNumber(input, i);
      from = i;
    } else if (c === 39) {
      flush(i, LITERAL);
      i = skipQuoted(input, i, 39, mysql);
      from = i;
    } else if (c === 34) {
      if (mysql) {
        // MySQL reads "…" as a string unless ANSI_QUOTES is set: treat it as a literal to be safe.
        flush(i, LITERAL);
        i = skipQuoted(input, i, 34, true);
        from = i;
      } else {
        i = skipQuoted(input, i, 34, false); // quoted identifier, kept verbatim
      }
    } else if (c === 96 && !pg) {
      i = skipQuoted(input, i, 96, false); // `identifier`
    } else if (c === 36) {
      if (isDigit(input.charCodeAt(i + 1))) {
        let j = i + 1;
        while (j < n && isDigit(input.charCodeAt(j))) j++;
        flush(i, PARAM + input.slice(i + 1, j));
        i = j;
        from = i;
      } else {
        // Dollar quoting is PostgreSQL's, but its derivatives (CockroachDB, Redshift…) arrive as
        // other systems: read it everywhere rather than leak a quoted body.
        const end = skipDollarQuoted(input, i);
        if (end < 0) {
          i++;
        } else {
          flush(i, LITERAL);
          i = end;
          from = i;
        }
      }
    } else if (c === 63 && !pg) {
      flush(i, LITERAL); // `?` placeholder (JDBC, mysql2): same shape as an inline literal
      i++;
      from = i;
    } else if ((c === 45 && input.charCodeAt(i + 1) === 45) || (c === 35 && mysql)) {
      space = flush(i, '') !== 32;
      i = skipLine(input, i);
      from = i;
    } else if (c === 47 && input.charCodeAt(i + 1) === 42) {
      space = flush(i, '') !== 32;
      i = skipBlockComment(input, i, pg);
      from = i;
    } else {
      i++;
    }
  }
  flush(n, '');
}
