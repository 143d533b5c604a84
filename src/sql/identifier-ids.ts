/**
 * The id parts of SQL identifiers: what makes `tenant_42.orders`, `SAVEPOINT sp_8f3a9c2e…`, `LISTEN chan_123`
 * or `events_2024_11` one name per tenant, entity or month rather than one name per design. The fingerprinter
 * writes each id part as `*` (`tenant_*.orders`), as the Redis key learner writes an id segment of a key, so
 * every tenant's statement is one row and no id reaches a report, metric, page or log.
 *
 * A name is cut into runs of ASCII letters and digits (anything else — `_`, `-`, `.`, `$`, a space —
 * separates; other characters count as letters). A run is an id part when it is:
 * - digits only: `tenant_42`, `events_2024_11`, `chan_123`, `_7`;
 * - 8+ hex characters with a digit among them: `sp_8f3a9c2e`, digests, ObjectIds, UUIDs without dashes;
 * - with the four runs after it, a UUID (8-4-4-4-12 hex runs joined by `-` or `_`), which becomes one `*`.
 * Runs that mix letters and digits otherwise stay: `table1`, `v2`, `utf8`, `md5`, `sha256`, `ipv4`, `int4`,
 * `oauth2_tokens`, ORM aliases (`t0`, `j1`). That is narrower than a Redis key segment (id-segments.ts,
 * where a digit in 4+ characters is enough): a segment of a key is a whole value, while a run here is a
 * piece of a designed name.
 * In SQL text only names in a name's position are templated (name-positions.ts): schemas, tables,
 * savepoints, channels, cursors; a column keeps its number (`address_line_1`, `top_10_items`). What it
 * costs: a table whose name has a number of its own (`top_10_items`) shows as `top_*_items`, and
 * statements that differ only there share a row; `sql.templateIds: false` keeps names as written.
 */

/** Shown for an id part. Not valid in a bare SQL identifier, so a templated name never reads as a real one. */
export const ID_MARK = '*';

const UUID_RUNS = [8, 4, 4, 4, 12];

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** A character of a run: ASCII letter or digit, or any non-ASCII character. */
function isRunChar(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c >= 128;
}

/** True when `name` holds an ASCII digit: no id part without one (the callers' quick test). */
export function hasDigit(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (isDigit(name.charCodeAt(i))) return true;
  return false;
}

interface Run {
  start: number;
  end: number;
  digits: number;
  hex: boolean;
}

function runsOf(name: string): Run[] {
  const runs: Run[] = [];
  let i = 0;
  const n = name.length;
  while (i < n) {
    if (!isRunChar(name.charCodeAt(i))) {
      i++;
      continue;
    }
    const run: Run = { start: i, end: i, digits: 0, hex: true };
    for (; i < n; i++) {
      const c = name.charCodeAt(i);
      if (!isRunChar(c)) break;
      if (isDigit(c)) run.digits++;
      else if (!isHex(c)) run.hex = false;
    }
    run.end = i;
    runs.push(run);
  }
  return runs;
}

/** Whether runs[r…r+4] spell a UUID: hex runs of 8-4-4-4-12 characters, each joined to the next by one `-` or `_`. */
function isUuidAt(name: string, runs: readonly Run[], r: number): boolean {
  if (r + UUID_RUNS.length > runs.length) return false;
  for (let k = 0; k < UUID_RUNS.length; k++) {
    const run = runs[r + k];
    if (!run.hex || run.end - run.start !== UUID_RUNS[k]) return false;
    if (k > 0) {
      const gap = runs[r + k - 1].end;
      const sep = name.charCodeAt(gap);
      if (run.start !== gap + 1 || (sep !== 45 && sep !== 95)) return false;
    }
  }
  return true;
}

function isIdRun(run: Run): boolean {
  const length = run.end - run.start;
  return run.digits === length || (run.hex && run.digits > 0 && length >= 8);
}

/**
 * `name` with each id part written as `mark` (ID_MARK unless given); `name` itself when it has none.
 * `tenant_42` → `tenant_*`, `sp_8f3a9c2e-1b2c-4d5e-8f90-123456789abc` → `sp_*`, `events_2024_11` →
 * `events_*_*`; `sha256`, `oauth2_tokens` unchanged.
 */
export function templateIdentifier(name: string, mark: string = ID_MARK): string {
  if (!hasDigit(name)) return name;
  const runs = runsOf(name);
  let out = '';
  let from = 0;
  for (let r = 0; r < runs.length; r++) {
    let last = -1;
    if (isUuidAt(name, runs, r)) last = r + UUID_RUNS.length - 1;
    else if (isIdRun(runs[r])) last = r;
    if (last < 0) continue;
    out += name.slice(from, runs[r].start) + mark;
    from = runs[last].end;
    r = last;
  }
  return from === 0 ? name : out + name.slice(from);
}

/** A word of prose or SQL that may be a name (one part of a dotted one): letters, digits, `_`, `$`, `-`. */
const WORD = /[\w$-]+/g;
/**
 * A name rather than a number or a figure with its unit (`12`, `1.5ms`, `2024-11-05` stay as they are): it
 * opens with a letter or `_`, or it is hex of 8+ characters with a letter (a UUID or digest opening with a digit).
 */
const NAME_LIKE = /^[A-Za-z_]|^(?=[\d_-]*[a-fA-F])[\da-fA-F_-]{8,}$/;

/**
 * `text` (SQL the advisor wrote, a catalog or plan name, a database's error message) with the id parts of
 * every name-like word but the `columns` given (their numbers are their design) as ID_MARK: `ON tenant_42.orders (…)` → `ON tenant_*.orders (…)`,
 * `relation "events_2024_11" …` → `relation "events_*_*" …`. Numbers stay, so counts and timings read
 * as before. Word by word rather than by the SQL lexer: a message's apostrophe opens no literal here.
 */
export function templateNamesInText(text: string, columns: ReadonlySet<string> = NO_COLUMNS): string {
  if (!hasDigit(text)) return text;
  return text.replace(WORD, (word) =>
    NAME_LIKE.test(word) && !columns.has(word) ? templateAround(word, columns) : word,
  );
}

const NO_COLUMNS: ReadonlySet<string> = new Set();

/**
 * `word` templated but for a column of `columns` inside it (an index name the advisor made of the table
 * and its columns: `orders_7_address_line_1_idx` → `orders_*_address_line_1_idx`).
 */
function templateAround(word: string, columns: ReadonlySet<string>): string {
  for (const column of columns) {
    const at = hasDigit(column) ? word.indexOf(column) : -1;
    if (at >= 0) {
      const after = at + column.length;
      return templateIdentifier(word.slice(0, at)) + column + templateIdentifier(word.slice(after));
    }
  }
  return templateIdentifier(word);
}
