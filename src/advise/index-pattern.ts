/**
 * Index advice for `col LIKE $1` and `col ILIKE $1` (`~~*`) on a text column, alone in the filter.
 * No btree serves ILIKE, and one serves LIKE only for a prefix pattern (abc%), in most collations
 * only with a pattern_ops operator class. A trigram index (pg_trgm's gin_trgm_ops) serves both, with
 * any pattern. The statement is normalised, so whether the app sends prefixes is not known: the
 * trigram index is proposed, since it serves every pattern, and for LIKE the proposal's note names
 * the smaller btree that serves prefixes only. A btree that already serves a prefix keeps the skip
 * it had (someone built it for prefixes), naming the trigram index for other patterns.
 */
import { quoteIdent } from '../sql/quote-ident';
import { describeIndex, displayTable, indexName } from './index-naming';
import type { ExistingIndex, PlannedUse, TableDecision, TableInfo } from './index-plan';
import type { PlanEvidence } from './types';

/** Operator classes of pg_trgm that answer LIKE and ILIKE. */
const TRIGRAM_OPCLASSES = new Set(['gin_trgm_ops', 'gist_trgm_ops']);

/** The decision for a LIKE/ILIKE column of `uses`, or undefined when there is none on a text column. */
export function patternDecision(
  uses: PlannedUse[],
  info: TableInfo,
  plan: PlanEvidence | undefined,
): TableDecision | undefined {
  const use = uses.find(
    (u) => (u.use === 'like' || u.use === 'ilike') && !u.expression && info.prefixOpclass?.has(u.column),
  );
  if (!use) return undefined;
  const { column } = use;
  const table = displayTable(info);
  const what = `${column} ${use.use === 'like' ? 'LIKE' : 'ILIKE'} …`;
  const trigram = `CREATE INDEX CONCURRENTLY ${quoteIdent(indexName(info, [`${column}_trgm`], new Map()))} ON ${table} USING gin (${quoteIdent(column)} gin_trgm_ops);`;
  const prefix = use.use === 'like' ? prefixAdvice(info, column) : undefined;
  if (prefix?.serving) {
    const detail = `${prefix.text}; for patterns that are not prefixes, a trigram index (pg_trgm): ${trigram}`;
    return { skip: { table, reason: 'like-pattern', detail } };
  }
  const existing = info.indexes.find((ix) => servesTrigram(ix, column));
  if (existing) {
    const detail = `existing index ${describeIndex(existing)} already serves ${what} (any pattern)`;
    return { skip: { table, reason: 'covered', detail } };
  }
  if (plan && !plan.seqScan) {
    const detail = `the generic plan reads ${table} without a Seq Scan (${plan.shape})`;
    return { skip: { table, reason: 'plan-uses-index', detail } };
  }
  return {
    proposal: {
      table,
      columns: [column],
      statement: trigram,
      tableRows: info.rows,
      existingIndexes: info.indexes.filter((ix) => ix.valid).map(describeIndex),
      extension: { name: 'pg_trgm', installed: info.trigramInstalled === true },
      note: prefix?.statement
        ? `a trigram index serves ${what} with any pattern; if every pattern is a prefix (abc%), a smaller btree serves it${prefix.collation}: ${prefix.statement}`
        : `no btree serves ${what}; a trigram index serves any pattern`,
      ...(plan ? { plan } : {}),
    },
  };
}

/** A valid, complete gin or gist index with a pg_trgm operator class on the column. */
function servesTrigram(ix: ExistingIndex, column: string): boolean {
  if (!ix.valid || ix.partial || (ix.method !== 'gin' && ix.method !== 'gist')) return false;
  return ix.columns.some((c, i) => c === column && TRIGRAM_OPCLASSES.has(ix.opclasses?.[i] ?? ''));
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
  const statement = `CREATE INDEX CONCURRENTLY ${quoteIdent(indexName(info, [column], new Map()))} ON ${displayTable(info)} (${quoteIdent(column)}${opclass ? ` ${opclass}` : ''});`;
  const collation = opclass
    ? `, in this column's collation only with the ${opclass} operator class`
    : ' (its collation is C, so a plain one serves)';
  return { text: `${what}${collation}; for a prefix: ${statement}`, collation, statement };
}
