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

/** Longest statement kept in a report (characters); longer ones end in `…`. */
export const MAX_STATEMENT_CHARS = 2048;

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

/** Whitespace and control characters (so LITERAL/PARAM can never come from the input). */
function isSpace(c: number): boolean {
  return c <= 32 || c === 127 || c === 160;
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

/**
 * Canonical form of `text`: literals → LITERAL, `$n` → PARAM+n, comments dropped, whitespace
 * runs → one space, trimmed. Identifiers, keywords and operators are kept as written.
 */
export function scanSql(text: string, dialect: SqlDialect): string {
  const pg = dialect === 'pg';
  const mysql = dialect === 'mysql';
  const n = text.length;
  let out = '';
  let from = 0; // start of the verbatim run not yet copied to `out`
  let space = false; // whitespace seen since the last token
  let i = 0;

  // Copies the pending verbatim run, then `marker` (if any), honouring a pending space.
  // Returns the last character code of the output (32 when it ends in a space).
  const flush = (to: number, marker: string): number => {
    if (to > from) {
      out += space && out.length > 0 ? ` ${text.slice(from, to)}` : text.slice(from, to);
      space = false;
    }
    if (marker !== '') {
      out += space && out.length > 0 ? ` ${marker}` : marker;
      space = false;
    }
    return out.length > 0 ? out.charCodeAt(out.length - 1) : 32;
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 32 && !space && i > from && !isSpace(text.charCodeAt(i + 1))) {
      i++; // a lone space inside a verbatim run is kept as is: most texts need no other copying
    } else if (isSpace(c)) {
      flush(i, '');
      space = true;
      i++;
      while (i < n) {
        if (!isSpace(text.charCodeAt(i))) break;
        i++;
      }
      from = i;
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(text.charCodeAt(j))) j++;
      const next = text.charCodeAt(j);
      if (j === i + 1 && next === 39 && isStringPrefix(c)) {
        // E'…' honours backslash escapes in PostgreSQL; MySQL strings always do.
        flush(i, LITERAL);
        i = skipQuoted(text, j, 39, mysql || c === 69 || c === 101);
        from = i;
      } else if (j === i + 1 && (c === 85 || c === 117) && next === 38 && text.charCodeAt(j + 1) === 39) {
        flush(i, LITERAL); // U&'…' Unicode escape string
        i = skipQuoted(text, j + 1, 39, false);
        from = i;
      } else {
        i = j;
      }
    } else if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(i + 1)))) {
      flush(i, LITERAL);
      i = skipNumber(text, i);
      from = i;
    } else if (c === 39) {
      flush(i, LITERAL);
      i = skipQuoted(text, i, 39, mysql);
      from = i;
    } else if (c === 34) {
      if (mysql) {
        // MySQL reads "…" as a string unless ANSI_QUOTES is set: treat it as a literal to be safe.
        flush(i, LITERAL);
        i = skipQuoted(text, i, 34, true);
        from = i;
      } else {
        i = skipQuoted(text, i, 34, false); // quoted identifier, kept verbatim
      }
    } else if (c === 96 && !pg) {
      i = skipQuoted(text, i, 96, false); // `identifier`
    } else if (c === 36) {
      if (isDigit(text.charCodeAt(i + 1))) {
        let j = i + 1;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
        flush(i, PARAM + text.slice(i + 1, j));
        i = j;
        from = i;
      } else {
        // Dollar quoting is PostgreSQL's, but its derivatives (CockroachDB, Redshift…) arrive as
        // other systems: read it everywhere rather than leak a quoted body.
        const end = skipDollarQuoted(text, i);
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
    } else if ((c === 45 && text.charCodeAt(i + 1) === 45) || (c === 35 && mysql)) {
      space = flush(i, '') !== 32;
      i = skipLine(text, i);
      from = i;
    } else if (c === 47 && text.charCodeAt(i + 1) === 42) {
      space = flush(i, '') !== 32;
      i = skipBlockComment(text, i, pg);
      from = i;
    } else {
      i++;
    }
  }
  flush(n, '');
  return out.charCodeAt(out.length - 1) === 32 ? out.slice(0, -1) : out;
}

const ITEM = `(?:${LITERAL}|${PARAM}\\d+)`;
const ROW_ITEM = `(?:${LITERAL}|${PARAM}\\d+|NULL|DEFAULT|TRUE|FALSE)`;
const ROW = `\\( ?${ROW_ITEM}(?: ?, ?${ROW_ITEM})* ?\\)`;
const IN_LIST = new RegExp(`\\b(IN) ?\\( ?${ITEM}(?: ?, ?${ITEM})* ?\\)`, 'gi');
const ARRAY_LIST = new RegExp(`\\b(ARRAY) ?\\[ ?${ITEM}(?: ?, ?${ITEM})* ?\\]`, 'gi');
const VALUES_ROWS = new RegExp(`\\b(VALUES) ?(${ROW})(?: ?, ?${ROW})+`, 'gi');

/**
 * Collapses lists whose length varies with the data: `IN (1, 2, 3)` and `ARRAY[…]` of literals
 * to one item, multi-row `VALUES` to the first row. The marker comment follows PostgreSQL 18's
 * pg_stat_statements (`IN ($1 /*, ... *\/)`), so the statement stays valid SQL.
 */
export function collapseLists(canonical: string): string {
  if (canonical.indexOf(LITERAL) < 0 && canonical.indexOf(PARAM) < 0) return canonical;
  return canonical
    .replace(IN_LIST, `$1 (${LITERAL} /*, ... */)`)
    .replace(ARRAY_LIST, `$1[${LITERAL} /*, ... */]`)
    .replace(VALUES_ROWS, '$1 $2 /*, ... */');
}

const MARKERS = new RegExp(`${LITERAL}|${PARAM}(\\d+)`, 'g');

/**
 * Canonical text with its markers numbered `$1, $2, …` in order of appearance; a repeated `$n`
 * keeps one number, so `a = $1 OR b = $1` stays that way. Not truncated.
 */
export function numberMarkers(canonical: string): string {
  let next = 0;
  let params: Map<string, number> | undefined;
  return canonical.replace(MARKERS, (_m, digits: string | undefined) => {
    if (digits === undefined) return `$${++next}`;
    params ??= new Map();
    let k = params.get(digits);
    if (k === undefined) {
      k = ++next;
      params.set(digits, k);
    }
    return `$${k}`;
  });
}

/** Cuts a statement to MAX_STATEMENT_CHARS, ending in `…` when cut. */
export function truncateStatement(text: string): string {
  if (text.length <= MAX_STATEMENT_CHARS) return text;
  let end = MAX_STATEMENT_CHARS - 1;
  // Do not cut a surrogate pair in half.
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** Report form of canonical text: markers numbered, truncated. */
export function renderStatement(canonical: string): string {
  return truncateStatement(numberMarkers(canonical));
}
