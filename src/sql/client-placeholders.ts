/**
 * Placeholders other clients put in the statement text their instrumentation records, numbered as
 * PostgreSQL's own (`$1`, `$2`…), for text the parser rejected because of them:
 * - `?` — JDBC, and the OpenTelemetry Java agent's sanitized statements (every literal a `?`); `??`
 *   is JDBC's escape for the `?` operator, and `?|` / `?&` are jsonb operators, left as they are;
 * - `%s` (also `%b`, `%t`) and `%(name)s` — Python's DB-API drivers (psycopg, SQLAlchemy, Django);
 *   `%%` is a `%`.
 * So a Java or Python service's statements parse: one fingerprint with the same statement sent by
 * a driver that numbers its own, and index advice read from the parse tree.
 *
 * A text with Python's placeholders is read for those only (its `?` is jsonb's operator). Strings
 * (`'…'`, `E'…'`, dollar-quoted), quoted identifiers and comments are copied unread. Returns undefined
 * when the text holds no such placeholder.
 */
export function numberClientPlaceholders(sql: string): string | undefined {
  // A text with Python's placeholders uses `?` as jsonb's operator, not as a placeholder.
  return numbered(sql, 'percent') ?? numbered(sql, 'question');
}

function numbered(sql: string, style: 'percent' | 'question'): string | undefined {
  const question = style === 'question';
  let out = '';
  let from = 0;
  let n = 0;
  const named = new Map<string, number>();
  const put = (at: number, end: number, replacement: string) => {
    out += sql.slice(from, at) + replacement;
    from = end;
  };
  for (let i = 0; i < sql.length; ) {
    const c = sql.charCodeAt(i);
    if (c === 39 /* ' */) i = quotedEnd(sql, i, 39, isEscapeString(sql, i));
    else if (c === 34 /* " */) i = quotedEnd(sql, i, 34, false);
    else if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) i = lineEnd(sql, i);
    else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42) i = blockCommentEnd(sql, i);
    else if (c === 36 /* $ */) i = dollarQuotedEnd(sql, i);
    else if (c === 63 /* ? */ && question) {
      const next = sql.charCodeAt(i + 1);
      if (next === 63) put(i, i + 2, '?');
      else if (next !== 124 /* | */ && next !== 38 /* & */) put(i, i + 1, `$${++n}`);
      i += next === 63 || next === 124 || next === 38 ? 2 : 1;
    } else if (c === 37 /* % */ && !question) {
      const next = sql.charCodeAt(i + 1);
      if (next === 37) {
        put(i, i + 2, '%');
        i += 2;
      } else if (next === 115 || next === 98 || next === 116 /* s b t */) {
        put(i, i + 2, `$${++n}`);
        i += 2;
      } else if (next === 40 /* ( */) {
        const close = sql.indexOf(')', i + 2);
        const kind = close < 0 ? 0 : sql.charCodeAt(close + 1);
        if (kind === 115 || kind === 98 || kind === 116) {
          const name = sql.slice(i + 2, close);
          let number = named.get(name);
          if (number === undefined) {
            number = ++n;
            named.set(name, number);
          }
          put(i, close + 2, `$${number}`);
          i = close + 2;
        } else i++;
      } else i++;
    } else i++;
  }
  return n === 0 ? undefined : out + sql.slice(from);
}

/** `E'…'`/`e'…'` (backslash escapes), not an identifier ending in e before a quote. */
function isEscapeString(sql: string, quote: number): boolean {
  const prev = sql.charCodeAt(quote - 1);
  if (prev !== 69 && prev !== 101) return false;
  const before = quote >= 2 ? sql.charCodeAt(quote - 2) : 32;
  return !isIdentPart(before);
}

function isIdentPart(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 128
  );
}

/** Index after a string or quoted identifier opened at `start` (doubled quotes stay inside). */
function quotedEnd(sql: string, start: number, quote: number, backslashes: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    if (backslashes && c === 92) i++;
    else if (c === quote) {
      if (sql.charCodeAt(i + 1) !== quote) return i + 1;
      i++;
    }
  }
  return sql.length;
}

function lineEnd(sql: string, start: number): number {
  const end = sql.indexOf('\n', start);
  return end < 0 ? sql.length : end + 1;
}

/** Index after a block comment; PostgreSQL's nest. */
function blockCommentEnd(sql: string, start: number): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i++) {
    if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
      depth++;
      i++;
    } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return sql.length;
}

/** Index after a `$tag$…$tag$` string at `start`, or after the `$` when it opens none (`$1`). */
function dollarQuotedEnd(sql: string, start: number): number {
  const tag = /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(start, start + 64));
  if (tag === null) return start + 1;
  const close = sql.indexOf(tag[0], start + tag[0].length);
  return close < 0 ? sql.length : close + tag[0].length;
}
