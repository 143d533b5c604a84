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
 * A text with Python's placeholders is read for those only (its `?` is jsonb's operator). Only code is
 * rewritten: strings, dollar-quoted bodies, quoted identifiers and comments are skipped as the SQL
 * scanner reads them (forEachPgCodeRun). Returns undefined when the text holds no such placeholder.
 */
import { forEachPgCodeRun } from './sql-scanner';

/** `%%`, `%(name)s` (name captured), `%s`. */
const PERCENT = /%%|%\(([^)]*)\)[sbt]|%[sbt]/g;
/** `??`, the jsonb operators `?|` and `?&`, `?`. */
const QUESTION = /\?\?|\?[|&]|\?/g;

export function numberClientPlaceholders(sql: string): string | undefined {
  return numbered(sql, PERCENT) ?? numbered(sql, QUESTION);
}

function numbered(sql: string, pattern: RegExp): string | undefined {
  let n = 0;
  const named = new Map<string, number>();
  // `name`: the capture of `%(name)s`; a pattern without one passes the match's offset there.
  const replace = (match: string, name: unknown): string => {
    if (match === '%%' || match === '??') return match[0];
    if (match === '?|' || match === '?&') return match;
    if (typeof name !== 'string') return `$${++n}`;
    let number = named.get(name);
    if (number === undefined) {
      number = ++n;
      named.set(name, number);
    }
    return `$${number}`;
  };
  let out = '';
  let from = 0;
  forEachPgCodeRun(sql, (start, end) => {
    const run = sql.slice(start, end);
    const rewritten = run.replace(pattern, replace);
    if (rewritten === run) return;
    out += sql.slice(from, start) + rewritten;
    from = end;
  });
  return n === 0 ? undefined : out + sql.slice(from);
}
