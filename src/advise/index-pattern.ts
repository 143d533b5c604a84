/**
 * Index advice for `col LIKE $1` and `col ILIKE $1` (`~~*`) on a text column or on an IMMUTABLE
 * expression (`lower(name) LIKE $1`), alone in the filter or as an OR branch (index-or.ts).
 * No btree serves ILIKE, and one serves LIKE only for a prefix pattern (abc%), in most collations
 * only with a pattern_ops operator class. A trigram index (pg_trgm's gin_trgm_ops) serves both, with
 * any pattern. The statement is normalised, so whether the app sends prefixes is not known: the
 * trigram index is proposed, since it serves every pattern, and for LIKE the proposal's note names
 * the smaller btree that serves prefixes only. A btree that already serves a prefix keeps the skip
 * it had (someone built it for prefixes), naming the trigram index for other patterns.
 * Beside an `=` or range filter the btree for those is proposed (patternBeside): PostgreSQL reads it
 * first, and checks the pattern on the rows it finds; the note names the trigram index it can add
 * with a BitmapAnd when those rows are many.
 */
import { quoteIdent } from '../sql/quote-ident';
import { namedShare, valueShare } from './column-shares';
import {
  createIndexSql,
  describeIndex,
  displayTable,
  indexName,
  indexStatement,
  keySql,
} from './index-naming';
import type { ExistingIndex, PlannedUse, TableDecision, TableInfo } from './index-plan';
import type { PlanEvidence } from './types';

/** Operator classes of pg_trgm that answer LIKE and ILIKE. */
const TRIGRAM_OPCLASSES = new Set(['gin_trgm_ops', 'gist_trgm_ops']);

/** A LIKE/ILIKE use a trigram index can serve: on a text column, or an expression shown indexable. */
function patternUse(uses: PlannedUse[], info: TableInfo): PlannedUse | undefined {
  return uses.find(
    (u) =>
      (u.use === 'like' || u.use === 'ilike') &&
      (u.expression ? !u.expression.unindexable : info.prefixOpclass?.has(u.column)),
  );
}

/** `name ILIKE …`, as advice names the filter. */
function describePattern(use: PlannedUse): string {
  return `${use.column} ${use.use === 'like' ? 'LIKE' : 'ILIKE'} …`;
}

/** A gin_trgm_ops index on the use's column or expression: createIndexSql's arguments. */
function trigramIndex(info: TableInfo, use: PlannedUse): Parameters<typeof createIndexSql> {
  const expressions = new Map(use.expression ? [[use.column, use.expression]] : []);
  const naming = { columns: [use.column, 'trgm'], expressions };
  const keys = `${keySql(use.column, use.expression)} gin_trgm_ops`;
  return [info, indexName(info, naming.columns, expressions), keys, naming, ' USING gin'];
}

/** Its CREATE INDEX alone, for a note (no partition query). */
function trigramSql(info: TableInfo, use: PlannedUse): string {
  return createIndexSql(...trigramIndex(info, use));
}

/** The decision for a LIKE/ILIKE column of `uses`, or undefined when there is none on a text column. */
export function patternDecision(
  uses: PlannedUse[],
  info: TableInfo,
  plan: PlanEvidence | undefined,
): TableDecision | undefined {
  const use = patternUse(uses, info);
  if (!use) return undefined;
  const table = displayTable(info);
  const what = describePattern(use);
  // An expression's collation is not looked up: its prefix btree is only described.
  const prefix = use.use === 'like' && !use.expression ? prefixAdvice(info, use.column) : undefined;
  if (prefix?.serving) {
    const detail = `${prefix.text}; for patterns that are not prefixes, a trigram index (pg_trgm): ${trigramSql(info, use)}`;
    return { skip: { table, reason: 'like-pattern', detail } };
  }
  const existing = info.indexes.find((ix) => servesTrigram(ix, use));
  if (existing) {
    const detail = `existing index ${describeIndex(existing)} already serves ${what} (any pattern)`;
    return { skip: { table, reason: 'covered', detail }, covering: existing };
  }
  if (plan && !plan.seqScan) {
    const detail = `the generic plan reads ${table} without a Seq Scan (${plan.shape})`;
    return { skip: { table, reason: 'plan-uses-index', detail } };
  }
  const note = prefix?.statement
    ? `a trigram index serves ${what} with any pattern; if every pattern is a prefix (abc%), a smaller btree serves it${prefix.collation}: ${prefix.statement}`
    : use.use === 'like'
      ? `a trigram index serves ${what} with any pattern; a btree on the expression serves prefixes (abc%) only`
      : `no btree serves ${what}; a trigram index serves any pattern`;
  return {
    proposal: {
      table,
      columns: [use.column],
      ...indexStatement(...trigramIndex(info, use)),
      tableRows: info.rows,
      existingIndexes: info.indexes.filter((ix) => ix.valid).map(describeIndex),
      extension: { name: 'pg_trgm', installed: info.trigramInstalled === true },
      note,
      ...(plan ? { plan } : {}),
    },
  };
}

/**
 * A LIKE/ILIKE beside the `=`/range columns a decision is about (`tenant_id = $1 AND name ILIKE
 * $2`): the btree on those is what PostgreSQL reads, the pattern is checked on the rows it finds.
 * When those are many, a trigram index lets PostgreSQL add the pattern with a BitmapAnd: the
 * decision's note (a proposal) or detail (a skip) says so, naming an existing one or the statement.
 */
export function patternBeside(decision: TableDecision, uses: PlannedUse[], info: TableInfo): TableDecision {
  const use = patternUse(uses, info);
  if (!use) return decision;
  const filters = [...new Set(uses.filter((u) => u.use === 'eq' || u.use === 'range').map((u) => u.column))];
  const rows = rowsPerLookup(uses, info, filters);
  const found = rows === undefined ? '' : `, ~${Math.max(1, Math.round(rows))} per look-up by pg_stats`;
  const what = `${describePattern(use)} is checked on the rows found by (${filters.join(', ')})${found}`;
  const existing = info.indexes.find((ix) => servesTrigram(ix, use));
  const setup = info.trigramInstalled ? '' : ' (after CREATE EXTENSION IF NOT EXISTS pg_trgm;)';
  const text = existing
    ? `${what}, or read through existing index ${describeIndex(existing)} and combined with a BitmapAnd when those are many`
    : `${what}; if those are many and the pattern matches few, a trigram index lets PostgreSQL combine both with a BitmapAnd${setup}: ${trigramSql(info, use)}`;
  if ('proposal' in decision) {
    const { note } = decision.proposal;
    return { proposal: { ...decision.proposal, note: note ? `${note}; ${text}` : text } };
  }
  return { ...decision, skip: { ...decision.skip, detail: `${decision.skip.detail}; ${text}` } };
}

/**
 * A LIKE/ILIKE that is the table's only filter, beside a join column or an `ORDER BY … LIMIT`
 * (`… JOIN people p ON p.id = o.person_id WHERE p.name ILIKE $1`, a search box's `ORDER BY
 * created_at DESC LIMIT 20`): the pattern's decision stands, since the join or sort column filters
 * nothing here. A proposal's note names the other column's index when none leads with it: the
 * sort's, which wins when the pattern matches many rows (PostgreSQL stops after the LIMIT's first
 * matches), or the join's, which serves a nested loop driven from the other table.
 */
export function patternBeforeKeys(
  decision: TableDecision,
  info: TableInfo,
  other: { join: string[] } | { order: string[] },
): TableDecision {
  const columns = 'join' in other ? other.join : other.order;
  if (!('proposal' in decision) || columns.length === 0) return decision;
  if (info.indexes.some((ix) => ix.valid && !ix.partial && ix.columns[0] === columns[0])) return decision;
  const list = columns.join(', ');
  const text =
    'join' in other
      ? `an index on (${list}) would serve the join when the other table drives a nested loop`
      : `if the pattern matches many rows, an index on (${list}) serves the ORDER BY … LIMIT better: PostgreSQL reads it in order and stops at the first rows that match`;
  const { note } = decision.proposal;
  return { proposal: { ...decision.proposal, note: note ? `${note}; ${text}` : text } };
}

/**
 * The rows the `=` filters find per look-up, as the planner estimates them from pg_stats (the table's
 * rows × each column's share of one value, or the null or true share a test names): the reader
 * judges "if those are many" with it. Undefined when a filter is a range or an expression, or a
 * column has no statistics: no figure rather than a guessed one.
 */
function rowsPerLookup(uses: PlannedUse[], info: TableInfo, filters: string[]): number | undefined {
  let rows = info.rows;
  for (const column of filters) {
    const tests = uses.filter((u) => u.column === column);
    if (tests.some((u) => u.use !== 'eq' || u.expression || u.matches !== tests[0].matches)) return undefined;
    const stats = info.stats.get(column);
    const share = tests[0].matches === undefined ? valueShare(stats) : namedShare(tests, stats);
    if (share === undefined) return undefined;
    rows *= share;
  }
  return rows;
}

/** A valid, complete gin or gist index with a pg_trgm operator class on the column or expression. */
function servesTrigram(ix: ExistingIndex, use: PlannedUse): boolean {
  if (!ix.valid || ix.partial || (ix.method !== 'gin' && ix.method !== 'gist')) return false;
  const canonical = use.expression?.canonical;
  const isKey = (i: number) =>
    use.expression
      ? canonical !== undefined && ix.expressions?.[i]?.canonical === canonical
      : ix.columns[i] === use.column;
  return ix.columns.some((_, i) => isKey(i) && TRIGRAM_OPCLASSES.has(ix.opclasses?.[i] ?? ''));
}

/**
 * The btree that serves `col LIKE 'prefix%'`: an existing one, or the statement for one (pattern_ops
 * outside a C collation), described.
 */
function prefixAdvice(
  info: TableInfo,
  column: string,
): { serving?: ExistingIndex; text: string; collation?: string; statement?: string } {
  const what = `${column} LIKE …: only a prefix pattern (abc%) can use a btree index`;
  const serving = info.indexes.find(
    (ix) =>
      ix.valid && !ix.partial && ix.method === 'btree' && ix.columns[0] === column && ix.likePrefix?.[0],
  );
  if (serving)
    return { serving, text: `${what}, and existing index ${describeIndex(serving)} serves one already` };
  const opclass = info.prefixOpclass?.get(column);
  const naming = { columns: [column], expressions: new Map() };
  const key = `${quoteIdent(column)}${opclass ? ` ${opclass}` : ''}`;
  const statement = createIndexSql(info, indexName(info, [column], new Map()), key, naming);
  const collation = opclass
    ? `, in this column's collation only with the ${opclass} operator class`
    : ' (its collation is C, so a plain one serves)';
  return { text: `${what}${collation}; for a prefix: ${statement}`, collation, statement };
}
