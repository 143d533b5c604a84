/**
 * From canonical text (see sql-scanner.ts) to the statement a report shows: variable-length
 * lists collapsed, markers numbered `$1, $2, …`, length bounded.
 */
import { LITERAL, PARAM } from './sql-scanner';

/** Longest statement kept in a report (characters); longer ones end in `…`. */
export const MAX_STATEMENT_CHARS = 2048;

const ITEM = `(?:${LITERAL}|${PARAM}\\d+)`;
const ROW_ITEM = `(?:${LITERAL}|${PARAM}\\d+|NULL|DEFAULT|TRUE|FALSE)`;
const ROW = `\\( ?${ROW_ITEM}(?: ?, ?${ROW_ITEM})* ?\\)`;
/** One pass for all three list kinds: IN (…), ARRAY[…], VALUES (…), (…). */
const LISTS = new RegExp(
  `\\b(?:(IN) ?\\( ?${ITEM}(?: ?, ?${ITEM})* ?\\)|(ARRAY) ?\\[ ?${ITEM}(?: ?, ?${ITEM})* ?\\]|(VALUES) ?(${ROW})(?: ?, ?${ROW})+)`,
  'gi',
);

function collapseList(
  _m: string,
  inKw?: string,
  arrayKw?: string,
  valuesKw?: string,
  firstRow?: string,
): string {
  if (inKw !== undefined) return `${inKw} (${LITERAL} /*, ... */)`;
  if (arrayKw !== undefined) return `${arrayKw}[${LITERAL} /*, ... */]`;
  return `${valuesKw} ${firstRow} /*, ... */`;
}

/**
 * Collapses lists whose length varies with the data: `IN (1, 2, 3)` and `ARRAY[…]` of literals
 * to one item, multi-row `VALUES` to the first row. The marker comment follows PostgreSQL 18's
 * pg_stat_statements (`IN ($1 /*, ... *\/)`), so the statement stays valid SQL.
 */
export function collapseLists(canonical: string): string {
  if (!mayHoldList(canonical)) return canonical;
  return canonical.replace(LISTS, collapseList);
}

/** IN and ARRAY lists open with one of these (the scanner leaves at most one space). */
const LIST_OPENINGS = ['(', '( ', '[', '[ '].flatMap((open) => [open + LITERAL, open + PARAM]);
/** VALUES rows may start with NULL, DEFAULT, TRUE or FALSE, so they are found by the keyword. */
const VALUES_KEYWORD = /values/i;

/**
 * False when no list can match, so the pattern is not run: most statements have none (`WHERE id = $1`),
 * and the pattern costs ~0.5 µs per text even then (a match is tried at every word boundary).
 */
function mayHoldList(canonical: string): boolean {
  if (canonical.indexOf(LITERAL) < 0 && canonical.indexOf(PARAM) < 0) return false;
  for (const opening of LIST_OPENINGS) if (canonical.indexOf(opening) >= 0) return true;
  return VALUES_KEYWORD.test(canonical);
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
