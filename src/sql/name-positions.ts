/**
 * Whether an identifier in SQL text names something whose id parts vary by tenant, entity or month (a
 * schema, a table, a savepoint, a channel, a cursor…) or is a column, whose digits are part of its design
 * (`address_line_1`, `top_10_items`, `q4_revenue`). identifier-ids.ts writes the id parts of the former
 * as `*` and leaves columns alone: `SELECT address_line_1 FROM tenant_42.customers` keeps its column,
 * so `address_line_1` and `address_line_2` stay two rows and index advice names the real column.
 *
 * The scanners (sql-scanner.ts) note every token they read of a statement in a small ring, and ask here
 * only when an identifier holds a digit (rare), so the common path pays a few integer writes per token.
 * A name is in column position when the token before it, or before its dotted chain (`c.address_line_1`),
 * opens an expression: `SELECT`, `WHERE`, `AND`, `BY`, `SET` in an `UPDATE`, `(`, `=`, another operator…
 * — or a `,` whose list began so (a select list, an `ORDER BY`, an `INSERT`'s column list). Everything
 * else is templated, because an id in a name is what must not leak: a qualifier (`tenant_42.` before a
 * `.`), the name after `FROM`, `JOIN`, `INTO`, `UPDATE`, `TABLE`, `SAVEPOINT`, `LISTEN`…, a `FROM` list's
 * next table, every name in a `SET` statement (`SET search_path = tenant_42`), and any name whose context
 * the ring no longer holds.
 */

/** What the scanners note of a token. */
export const WORD_TOKEN = 0; // an identifier or keyword, bare or quoted
export const DOT_TOKEN = 1;
export const OTHER_TOKEN = 2; // punctuation, a literal, a parameter

// 256 tokens: an ORM's select list of ~40 columns (`"User"."id" AS "User_id",` is 6 tokens) still shows
// what opened it.
const RING = 256;
const MASK = RING - 1;
const ringStart = new Int32Array(RING);
const ringEnd = new Int32Array(RING);
const ringKind = new Uint8Array(RING);
/** Tokens noted since the statement began. */
let noted = 0;

/** Words after which a name is a column (or a designed alias): they open an expression or a column list. */
const COLUMN_OPENERS = new Set([
  'select',
  'distinct',
  'where',
  'and',
  'or',
  'not',
  'by',
  'having',
  'when',
  'then',
  'else',
  'case',
  'returning',
  'on',
  'using',
  'as',
  'set',
  'is',
  'between',
  'like',
  'ilike',
  'similar',
  'any',
  'all',
  'some',
  'limit',
  'offset',
  'filter',
  'over',
  'within',
]);

/** Words after which a list's items are names (`FROM a, b`, `TRUNCATE a, b`). */
const NAME_LIST_OPENERS = new Set(['from', 'join', 'into', 'update', 'table', 'only', 'truncate', 'lateral']);

/** Statements whose every name is a value (`SET search_path = tenant_42`, `RESET ROLE`). */
const SETTING_STATEMENTS = new Set(['set', 'reset']);

/** Forget the statement read so far (a new text). */
export function resetNamePositions(): void {
  noted = 0;
}

/** Note the token [start, end) of `input` (a GAP is not noted); a `;` starts a new statement. */
export function noteToken(input: string, start: number, end: number, kind: number): void {
  if (kind === OTHER_TOKEN && input.charCodeAt(end - 1) === 59 /* ; */) {
    noted = 0;
    return;
  }
  const at = noted & MASK;
  ringStart[at] = start;
  ringEnd[at] = end;
  ringKind[at] = kind;
  noted++;
}

/** The word noted at `r`, lower-cased; '' for a quoted name (never a keyword) or a long word (none is). */
function wordAt(input: string, r: number): string {
  const at = r & MASK;
  const start = ringStart[at];
  const end = ringEnd[at];
  const c = input.charCodeAt(start);
  if (c === 34 || c === 96 || end - start > 9) return '';
  return input.slice(start, end).toLowerCase();
}

function isComma(input: string, r: number): boolean {
  const at = r & MASK;
  return ringEnd[at] - ringStart[at] === 1 && input.charCodeAt(ringStart[at]) === 44;
}

/** The first character after `end` that is not white space. */
function nextCharAfter(input: string, end: number): number {
  for (let i = end; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return c;
  }
  return -1;
}

/**
 * True when the identifier token [start, end), about to be noted, names something whose id parts are
 * to be templated; false when it is in column position (see the module's comment).
 */
export function isNamePosition(input: string, end: number): boolean {
  if (nextCharAfter(input, end) === 46 /* . */) return true; // a qualifier: schema or table
  const oldest = Math.max(0, noted - RING);
  if (oldest === 0 && noted > 0 && SETTING_STATEMENTS.has(wordAt(input, 0))) return true;
  // The token before this name's dotted chain (`c.address_line_1`).
  let r = noted - 1;
  while (r - 1 >= oldest && ringKind[r & MASK] === DOT_TOKEN && ringKind[(r - 1) & MASK] === WORD_TOKEN)
    r -= 2;
  if (r < oldest) return true; // the statement's first word, or its context is no longer known
  const kind = ringKind[r & MASK];
  if (kind === WORD_TOKEN) return !COLUMN_OPENERS.has(wordAt(input, r)); // FROM, JOIN, SAVEPOINT, TO…
  if (kind !== OTHER_TOKEN || !isComma(input, r)) return kind !== OTHER_TOKEN; // `(`, `=`, an operator: a column
  return isNameListItem(input, r - 1, oldest);
}

/** For a name after a `,`: back over the list's items (`a, b AS x, c.d DESC`) to what opened the list. */
function isNameListItem(input: string, from: number, oldest: number): boolean {
  for (let r = from; r >= oldest; r--) {
    const kind = ringKind[r & MASK];
    if (kind === DOT_TOKEN || isComma(input, r)) continue;
    if (kind === OTHER_TOKEN) return false; // `(`, `=`, a literal: a column list or an expression's
    const word = wordAt(input, r);
    if (NAME_LIST_OPENERS.has(word)) return true;
    // `AS` names an alias inside either kind of list; the other openers begin a column list.
    if (word !== 'as' && COLUMN_OPENERS.has(word)) return false;
  }
  return true;
}
