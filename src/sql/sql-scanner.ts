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

import { ID_MARK, templateIdentifier } from './identifier-ids';
import {
  DOT_TOKEN,
  isNamePosition,
  noteToken,
  OTHER_TOKEN,
  resetNamePositions,
  WORD_TOKEN,
} from './name-positions';

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

/** For ASCII characters that continue an identifier: 2 for a digit, 1 for a letter, `_` or `$`; else 0. */
const IDENT_PART = new Uint8Array(128);
for (let c = 0; c < 128; c++) IDENT_PART[c] = isDigit(c) ? 2 : isIdentPart(c) ? 1 : 0;

function classOf(c: number): number {
  return c < 128 ? CLASS[c] : c === 160 ? SPACE : IDENT;
}

// Token kinds of scanToken. A gap (whitespace or a comment) becomes one space between two tokens of
// output; a verbatim token is copied; a literal becomes LITERAL; a parameter becomes PARAM + its digits.
const GAP = 0;
const VERBATIM = 1;
const LITERAL_TOKEN = 2;
const PARAM_TOKEN = 3;
const LITERAL_CODE = LITERAL.charCodeAt(0);
const PARAM_CODE = PARAM.charCodeAt(0);

/**
 * End of the token scanToken read last. A module-level variable rather than a returned pair: the callers
 * are synchronous and never re-entered, and this keeps the token reader allocation-free.
 */
let tokenEnd = 0;
/**
 * Set with tokenEnd: the token is an identifier (bare, or quoted as the dialect quotes names) holding a
 * digit, so it may have id parts (identifier-ids.ts). Most identifiers have none and skip that check.
 */
let tokenIdDigits = false;

/**
 * The one lexer behind scanSql and hashCanonical: the kind of the token starting at `i` (GAP, VERBATIM,
 * LITERAL_TOKEN or PARAM_TOKEN); its end goes to tokenEnd.
 */
function scanToken(input: string, i: number, pg: boolean, mysql: boolean): number {
  const n = input.length;
  const c = input.charCodeAt(i);
  const k = classOf(c);
  tokenIdDigits = false;
  if (k === IDENT) {
    const next = input.charCodeAt(i + 1);
    if (next === 39 && isStringPrefix(c)) {
      // E'…' honours backslash escapes in PostgreSQL; elsewhere strings are read as if they always did.
      tokenEnd = skipQuoted(input, i + 1, 39, !pg || c === 69 || c === 101);
      return LITERAL_TOKEN;
    }
    if ((c === 85 || c === 117) && next === 38 && input.charCodeAt(i + 2) === 39) {
      tokenEnd = skipQuoted(input, i + 2, 39, false); // U&'…' Unicode escape string
      return LITERAL_TOKEN;
    }
    let j = i + 1;
    let seen = 0;
    while (j < n) {
      const d = input.charCodeAt(j);
      if (d < 128) {
        const part = IDENT_PART[d];
        if (part === 0) break;
        seen |= part;
      } else if (d === 160) break;
      j++;
    }
    tokenEnd = j;
    tokenIdDigits = seen > 1;
    return VERBATIM;
  }
  if (k === OTHER) {
    // Runs of punctuation (`, `, `(`, `=`) are one token.
    let j = i + 1;
    while (j < n) {
      const d = input.charCodeAt(j);
      if (d >= 128 || CLASS[d] !== OTHER) break;
      j++;
    }
    tokenEnd = j;
    return VERBATIM;
  }
  if (k === SPACE) {
    let j = i + 1;
    while (j < n && classOf(input.charCodeAt(j)) === SPACE) j++;
    tokenEnd = j;
    return GAP;
  }
  if (k === DIGIT || (c === 46 && isDigit(input.charCodeAt(i + 1)))) {
    tokenEnd = skipNumber(input, i);
    return LITERAL_TOKEN;
  }
  return scanSpecial(input, i, c, pg, mysql);
}

/** scanToken for the characters ' " ` $ ? - # / . (SPECIAL), apart from a number's leading dot. */
function scanSpecial(input: string, i: number, c: number, pg: boolean, mysql: boolean): number {
  const next = input.charCodeAt(i + 1);
  // Outside PostgreSQL, quoting is read the way that hides the most: a backslash escapes the next
  // character (MySQL, ClickHouse, …; where it does not, the literal only runs on to the next quote), and
  // "…" is a literal (MySQL without ANSI_QUOTES and SQLite take it as a string; a quoted identifier
  // elsewhere then shows as a placeholder, never a value as text).
  if (c === 39) {
    tokenEnd = skipQuoted(input, i, 39, !pg);
    return LITERAL_TOKEN;
  }
  if (c === 34) {
    tokenEnd = skipQuoted(input, i, 34, !pg);
    if (!pg) return LITERAL_TOKEN;
    tokenIdDigits = digitBetween(input, i + 1, tokenEnd);
    return VERBATIM;
  }
  if (c === 96 && !pg) {
    tokenEnd = skipQuoted(input, i, 96, false); // `identifier`
    tokenIdDigits = digitBetween(input, i + 1, tokenEnd);
    return VERBATIM;
  }
  if (c === 36) {
    if (isDigit(next)) {
      let j = i + 1;
      while (j < input.length && isDigit(input.charCodeAt(j))) j++;
      tokenEnd = j;
      return PARAM_TOKEN;
    }
    // Dollar quoting is PostgreSQL's, but its derivatives (CockroachDB, Redshift…) arrive as other
    // systems: read it everywhere rather than leak a quoted body.
    const end = skipDollarQuoted(input, i);
    tokenEnd = end < 0 ? i + 1 : end;
    return end < 0 ? VERBATIM : LITERAL_TOKEN;
  }
  if (c === 63 && !pg) {
    tokenEnd = i + 1; // `?` placeholder (JDBC, mysql2): same shape as an inline literal
    return LITERAL_TOKEN;
  }
  if ((c === 45 && next === 45) || (c === 35 && mysql)) {
    tokenEnd = skipLine(input, i);
    return GAP;
  }
  if (c === 47 && next === 42) {
    tokenEnd = skipBlockComment(input, i, pg);
    return GAP;
  }
  tokenEnd = i + 1;
  return VERBATIM;
}

function digitBetween(input: string, from: number, to: number): boolean {
  for (let j = from; j < to; j++) if (isDigit(input.charCodeAt(j))) return true;
  return false;
}

/** What name-positions.ts notes of the non-gap token of `kind` at `i`. */
function noteKindOf(input: string, i: number, kind: number): number {
  if (kind !== VERBATIM) return OTHER_TOKEN;
  const c = input.charCodeAt(i);
  if (c === 46) return DOT_TOKEN;
  return c === 34 || c === 96 || classOf(c) === IDENT ? WORD_TOKEN : OTHER_TOKEN;
}

/**
 * The id parts of the token [i, end) as `mark` when it is an identifier with a digit in a name's position
 * (name-positions.ts: not a column), else undefined; notes the token either way. For the scanners that
 * template ids, on every non-gap token.
 */
function templatedIfName(
  input: string,
  i: number,
  end: number,
  kind: number,
  mark: string,
): string | undefined {
  const templated =
    tokenIdDigits && isNamePosition(input, end) ? templatedToken(input, i, end, mark) : undefined;
  noteToken(input, i, end, noteKindOf(input, i, kind));
  return templated;
}

/**
 * The identifier token [start, end) with its id parts written as `mark` (identifier-ids.ts), or undefined when
 * it has none. A quoted name keeps its quotes: `"tenant_42"` → `"tenant_*"`.
 */
function templatedToken(input: string, start: number, end: number, mark: string): string | undefined {
  const token = input.slice(start, end);
  const templated = templateIdentifier(token, mark);
  return templated === token ? undefined : templated;
}

/** True when the last scanSql call wrote an id part as ID_MARK (so the text has names that vary by id). */
let lastScanTemplated = false;

export function scanTemplatedIds(): boolean {
  return lastScanTemplated;
}

/**
 * Canonical form of `input`: literals → LITERAL, `$n` → PARAM+n, comments dropped, whitespace
 * runs → one space, trimmed. Keywords and operators are kept as written, and identifiers too unless
 * `templateIds`: then their id parts are ID_MARK (`tenant_42.orders` → `tenant_*.orders`).
 */
export function scanSql(input: string, dialect: SqlDialect, templateIds = false): string {
  const pg = dialect === 'pg';
  const mysql = dialect === 'mysql';
  const n = input.length;
  let out = '';
  // Verbatim text not yet copied: [runStart, runEnd). A lone space between two verbatim tokens stays in
  // the run, so most texts are copied in a few slices.
  let runStart = 0;
  let runEnd = 0;
  let gap = false;
  let i = 0;
  lastScanTemplated = false;
  if (templateIds) resetNamePositions();
  while (i < n) {
    const kind = scanToken(input, i, pg, mysql);
    const end = tokenEnd;
    const templated = templateIds && kind !== GAP ? templatedIfName(input, i, end, kind, ID_MARK) : undefined;
    if (kind === GAP) {
      gap = true;
    } else if (templated !== undefined) {
      if (runEnd > runStart) out += input.slice(runStart, runEnd);
      if (gap && out.length > 0) out += ' ';
      gap = false;
      out += templated;
      runStart = end;
      runEnd = end;
      lastScanTemplated = true;
    } else if (
      kind === VERBATIM &&
      runEnd > runStart &&
      (!gap || (i === runEnd + 1 && input.charCodeAt(runEnd) === 32))
    ) {
      runEnd = end;
      gap = false;
    } else {
      if (runEnd > runStart) out += input.slice(runStart, runEnd);
      if (gap && out.length > 0) out += ' ';
      gap = false;
      runStart = i;
      runEnd = i;
      if (kind === VERBATIM) runEnd = end;
      else if (kind === LITERAL_TOKEN) out += LITERAL;
      else out += PARAM + input.slice(i + 1, end);
    }
    i = end;
  }
  if (runEnd > runStart) out += input.slice(runStart, runEnd);
  // An unterminated quoted identifier runs to the end, spaces included: its last one is trimmed.
  return out.charCodeAt(out.length - 1) === 32 ? out.slice(0, -1) : out;
}

/**
 * A 64-bit hash of what scanSql(input, dialect) returns, without building it: `into` gets
 * [hash 1, hash 2, length]. The same lexer (scanToken) produces both, so equal hashes mean equal
 * canonical forms up to a 2^-64 collision — the identity pg_stat_statements gives queries too. It lets
 * the fingerprinter serve a literal-bearing text with no string built (fingerprinter.ts).
 *
 * Two independent 32-bit hashes (FNV-1a and a murmur-style mix) of the output, character by character,
 * token by token as the lexer reads them (~11.8k → ~11.3k instructions per ~100-character text under
 * cachegrind than with the former shared flush() and module-level state; V8's charCodeAt loops cost
 * ~25+ instructions per character here, which is why literal-skeleton.ts avoids this pass).
 */
export function hashCanonical(
  input: string,
  dialect: SqlDialect,
  into: Int32Array,
  templateIds = false,
): void {
  const pg = dialect === 'pg';
  const mysql = dialect === 'mysql';
  const n = input.length;
  if (templateIds) resetNamePositions();
  let h1 = -2128831035; // FNV offset basis
  let h2 = 0x2f1a3b5c;
  let length = 0;
  let gap = false;
  let i = 0;
  while (i < n) {
    const kind = scanToken(input, i, pg, mysql);
    const end = tokenEnd;
    if (kind === GAP) {
      gap = true;
      i = end;
      continue;
    }
    if (gap && length > 0) {
      h1 = Math.imul(h1 ^ 32, 16777619);
      h2 = Math.imul(h2 ^ 32, 0x5bd1e995);
      h2 ^= h2 >>> 13;
      length++;
    }
    gap = false;
    let k = i;
    if (kind !== VERBATIM) {
      const marker = kind === LITERAL_TOKEN ? LITERAL_CODE : PARAM_CODE;
      h1 = Math.imul(h1 ^ marker, 16777619);
      h2 = Math.imul(h2 ^ marker, 0x5bd1e995);
      h2 ^= h2 >>> 13;
      length++;
      // A parameter's digits follow its marker; a literal has nothing more.
      k = kind === LITERAL_TOKEN ? end : i + 1;
    }
    // scanSql trims a trailing space (only an unterminated quoted identifier ends in one).
    const stop = kind === VERBATIM && end === n && input.charCodeAt(n - 1) === 32 ? n - 1 : end;
    // An identifier with id parts is hashed as scanSql writes it.
    const templated = templateIds ? templatedIfName(input, i, stop, kind, ID_MARK) : undefined;
    const from = templated ?? input;
    if (templated !== undefined) k = 0;
    const last = templated === undefined ? stop : templated.length;
    length += last - k;
    for (; k < last; k++) {
      const c = from.charCodeAt(k);
      h1 = Math.imul(h1 ^ c, 16777619);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 13;
    }
    i = end;
  }
  into[0] = h1 ^ length;
  into[1] = h2;
  into[2] = length;
}

/**
 * Where the literals of `input` are, as [start, end) pairs in order (the tokens scanSql turns into
 * LITERAL). For literal-skeleton.ts, which recognises texts that differ from `input` only inside them.
 */
export function literalSpans(input: string, dialect: SqlDialect): number[] {
  const pg = dialect === 'pg';
  const mysql = dialect === 'mysql';
  const spans: number[] = [];
  for (let i = 0; i < input.length; i = tokenEnd) {
    if (scanToken(input, i, pg, mysql) === LITERAL_TOKEN) spans.push(i, tokenEnd);
  }
  return spans;
}

/**
 * Calls `visit(start, end)` for each run of PostgreSQL code in `input`: the text outside strings,
 * dollar-quoted bodies, quoted identifiers, numbers, `$n` parameters and comments, each run as long
 * as such tokens follow one another (`a = ? AND b ?| `, `%(name)s`). For client-placeholders.ts,
 * which rewrites placeholders only where the parser would read code.
 */
export function forEachPgCodeRun(input: string, visit: (start: number, end: number) => void): void {
  let runStart = -1;
  let i = 0;
  while (i < input.length) {
    const kind = scanToken(input, i, true, false);
    const first = input.charCodeAt(i);
    // A gap is whitespace or a comment; only a comment starts with `-` or `/`.
    const code = kind === VERBATIM ? first !== 34 : kind === GAP && first !== 45 && first !== 47;
    if (code && runStart < 0) runStart = i;
    else if (!code && runStart >= 0) {
      visit(runStart, i);
      runStart = -1;
    }
    i = tokenEnd;
  }
  if (runStart >= 0) visit(runStart, input.length);
}

/** End of the literal token at `i` when the token there is one, else -1 (see literalSpans). */
export function literalEndAt(input: string, i: number, dialect: SqlDialect): number {
  if (i >= input.length) return -1;
  return scanToken(input, i, dialect === 'pg', dialect === 'mysql') === LITERAL_TOKEN ? tokenEnd : -1;
}

/**
 * For PostgreSQL text the parser rejected: `input` cut at its first quoted string that holds a
 * backslash (E'…' aside), with an empty literal in place of that string and the rest. The parser reads
 * `'x\'` as a whole string (standard_conforming_strings on), a server with it off — or an app that
 * escapes quotes MySQL-style — as an escaped quote, and the two readings disagree on what follows: a
 * rejected `WHERE a = 'x\'SECRET'` read the first way shows SECRET as code. Cut there, nothing after the
 * ambiguous string can show under either reading. Texts without such a string come back unchanged.
 */
export function cutAtAmbiguousString(input: string): string {
  for (let i = 0; i < input.length; i = tokenEnd) {
    if (scanToken(input, i, true, false) !== LITERAL_TOKEN) continue;
    const c = input.charCodeAt(i);
    // A quoted string: '…' or a prefixed one (N'…', B'…', X'…', U&'…'); E'…' reads escapes already.
    const quoted = c === 39 || (c !== 69 && c !== 101 && isIdentStart(c));
    if (!quoted) continue;
    const backslash = input.indexOf('\\', i);
    if (backslash >= 0 && backslash < tokenEnd) return `${input.slice(0, i)}''`;
  }
  return input;
}

/**
 * `input` with the id parts of its identifiers written as `mark` and everything else (literals and comments
 * too) as it is; `input` itself when no identifier has one. With mark `0` the text still parses, so the
 * parser sees every tenant's statement as one; with ID_MARK it templates SQL the advisor writes.
 */
export function rewriteIdentifierIds(input: string, dialect: SqlDialect, mark: string): string {
  const pg = dialect === 'pg';
  const mysql = dialect === 'mysql';
  let out = '';
  let from = 0;
  resetNamePositions();
  for (let i = 0; i < input.length; i = tokenEnd) {
    const kind = scanToken(input, i, pg, mysql);
    if (kind === GAP) continue;
    const templated = templatedIfName(input, i, tokenEnd, kind, mark);
    if (templated === undefined) continue;
    out += input.slice(from, i) + templated;
    from = tokenEnd;
  }
  return from === 0 ? input : out + input.slice(from);
}
