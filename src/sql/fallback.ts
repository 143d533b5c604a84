/**
 * Shape of a statement without a parser: for other databases, text PostgreSQL rejects and texts
 * over sql.maxParseBytes. Works on the literal-free statement only, so nothing here can see a
 * literal value.
 */
import { createHash } from 'node:crypto';

/** Keeps the fingerprint independent of spacing around punctuation and of keyword case. */
const SPACE_NEAR_PUNCT = /\s*([^\w\s$"`\u0080-\uffff])\s*/g;

/** Stable 16-hex-digit id of a normalized statement (same width as libpg-query's). */
export function fallbackFingerprint(statement: string): string {
  const compact = statement.toLowerCase().replace(SPACE_NEAR_PUNCT, '$1');
  return createHash('sha1').update(compact).digest('hex').slice(0, 16);
}

interface Word {
  /** Upper-cased bare word, or the name with quotes removed for quoted/qualified names. */
  text: string;
  upper: string;
  depth: number;
}

// A name: bare word or quoted identifier, optionally dotted (schema.table, "s"."t", `db`.`t`).
// A bare name may hold `*`: an id part the scanner templated (`tenant_*`).
const NAME_PART = String.raw`(?:"(?:[^"]|"")*"|\x60[^\x60]*\x60|\[[^\]]*\]|[A-Za-z_\u0080-\uffff][\w$*\u0080-\uffff]*)`;
const TOKEN = new RegExp(String.raw`${NAME_PART}(?:\s*\.\s*${NAME_PART})*|[()]`, 'g');

function unquote(name: string): string {
  return name
    .split(/\s*\.\s*/)
    .map((p) => (/^["`[]/.test(p) ? p.slice(1, -1) : p))
    .join('.');
}

function words(statement: string): Word[] {
  const out: Word[] = [];
  let depth = 0;
  for (const m of statement.matchAll(TOKEN)) {
    const t = m[0];
    if (t === '(') depth++;
    else if (t === ')') depth = Math.max(0, depth - 1);
    else out.push({ text: unquote(t), upper: t.toUpperCase(), depth });
  }
  return out;
}

const MAIN_VERBS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'REPLACE', 'UPSERT']);
/** Words that may sit between the table keyword and the name. */
const NAME_NOISE = new Set([
  'ONLY',
  'LOW_PRIORITY',
  'IGNORE',
  'DELAYED',
  'QUICK',
  'HIGH_PRIORITY',
  'LATERAL',
]);
/** Keyword after which each verb names its table. */
const TABLE_AFTER: Record<string, string> = {
  SELECT: 'FROM',
  DELETE: 'FROM',
  INSERT: 'INTO',
  REPLACE: 'INTO',
  UPSERT: 'INTO',
  MERGE: 'INTO',
  UPDATE: 'UPDATE',
};

function nameAfter(
  ws: readonly Word[],
  keyword: string,
  depth: number | undefined,
  skip: ReadonlySet<string>,
): string {
  for (let i = 0; i < ws.length - 1; i++) {
    const w = ws[i];
    if (w.upper !== keyword || (depth !== undefined && w.depth !== depth)) continue;
    let j = i + 1;
    while (j < ws.length && NAME_NOISE.has(ws[j].upper)) j++;
    const name = ws[j];
    if (name && name.depth === w.depth && !MAIN_VERBS.has(name.upper) && !skip.has(name.text))
      return name.text;
  }
  return '';
}

/** Verb and first table of a literal-free statement, by keyword position. */
export function describeStatement(statement: string): { operation: string; table: string } {
  const ws = words(statement);
  if (ws.length === 0) return { operation: '', table: '' };
  let verbAt = 0;
  // WITH … AS (…) <verb>: the verb is the first main verb outside the CTE bodies.
  if (ws[0].upper === 'WITH' || ws[0].depth > 0) {
    const top = ws.findIndex((w, i) => i > 0 && w.depth === 0 && MAIN_VERBS.has(w.upper));
    verbAt = top >= 0 ? top : ws.findIndex((w) => MAIN_VERBS.has(w.upper));
    if (verbAt < 0) verbAt = 0;
  }
  const verb = ws[verbAt];
  const operation = /^[A-Z_]+$/.test(verb.upper) ? verb.upper : '';
  const keyword = TABLE_AFTER[operation];
  if (!keyword) return { operation, table: '' };
  // `WITH r AS (…)`: r names a CTE, not a table.
  const ctes = new Set<string>();
  for (let i = 1; i < verbAt; i++) if (ws[i].depth === 0 && ws[i + 1]?.upper === 'AS') ctes.add(ws[i].text);
  const main = ws.slice(verbAt);
  const table = nameAfter(main, keyword, verb.depth, ctes) || nameAfter(ws, 'FROM', undefined, ctes);
  return { operation, table };
}
