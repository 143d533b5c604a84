/**
 * Pure index planning (PgHero's approach, plus the generic plan as a witness): from the columns
 * a statement filters on in one table, the table's size, statistics and existing indexes, pick
 * the index columns — equality columns by selectivity until few rows remain, then one range or
 * the ORDER BY columns — or say why no index is proposed.
 */
import { namedShare, valueShare } from './column-shares';
import { containmentDecision } from './index-containment';
import { describeIndex, directionSql, displayTable, indexName, indexStatement, keySql } from './index-naming';
import { patternBeforeKeys, patternBeside, patternDecision } from './index-pattern';
import type { ColumnUse, ContainmentOperator, PredicateExpression } from './predicate-columns';
import type { IndexProposal, IndexSkipReason, PlanEvidence } from './types';

export { MAX_LISTED_PARTITIONS } from './index-naming';
export { describeIndex, displayTable, indexName };

export interface ColumnStats {
  /** Distinct values (pg_stats.n_distinct made absolute); null when the column has no statistics. */
  distinct: number | null;
  nullFrac: number;
  /** For a boolean column, the share of rows that are true (from its most common values). */
  trueFrac?: number;
}

export interface ExistingIndex {
  name: string;
  /** Key columns in order; null for an expression column. */
  columns: (string | null)[];
  /**
   * Per key, for an expression: PostgreSQL's spelling of it (as EXPLAIN VERBOSE spells a proposed
   * one; may hold literals, so never shown) and, when it holds no literal, how it is shown.
   */
  expressions?: ({ canonical: string; shown?: string } | null)[];
  unique: boolean;
  /** Access method: btree, hash, gin, … */
  method: string;
  partial: boolean;
  valid: boolean;
  /** Per key: its operator class when not the type's default (`text_pattern_ops`), else null. */
  opclasses?: (string | null)[];
  /** Per key: serves `LIKE 'prefix%'` (a pattern_ops class, or the default one in a C collation). */
  likePrefix?: boolean[];
  /** Per key: DESC and NULLS FIRST (pg_index.indoption); absent = ASC NULLS LAST throughout. */
  desc?: boolean[];
  nullsFirst?: boolean[];
}

/** How a proposed key is sorted: ASC NULLS LAST unless the ORDER BY says otherwise. */
export interface SortDirection {
  desc: boolean;
  nullsFirst: boolean;
}

/** What the database said of an expression key (index-expressions.ts). */
export interface ExpressionCheck {
  /** PostgreSQL's spelling of it, to match an existing index's expression. */
  canonical?: string;
  /** Why no index can hold it (not IMMUTABLE, holds a parameter, …); unset when one can. */
  unindexable?: string;
}

/** One use of a column or expression by the statement, as predicate-columns reads it. */
export interface PlannedUse {
  column: string;
  use: ColumnUse;
  operator?: ContainmentOperator;
  matches?: 'null' | 'true';
  desc?: true;
  nullsFirst?: boolean;
  expression?: PredicateExpression & ExpressionCheck;
}

export interface TableInfo {
  schema: string;
  name: string;
  /** r = table, p = partitioned table, v = view, m = materialized view… (pg_class.relkind). */
  relkind: string;
  rows: number;
  columns: Set<string>;
  /**
   * Text-like columns: the operator class an index needs to serve `LIKE 'prefix%'` on them
   * (`text_pattern_ops`…), or null when the default one does (a C collation).
   */
  prefixOpclass?: Map<string, string | null>;
  stats: Map<string, ColumnStats>;
  indexes: ExistingIndex[];
  /** Columns of a type a GIN index serves containment on: jsonb, or any array. */
  containers?: Map<string, 'jsonb' | 'array'>;
  /** The database has pg_trgm installed (pg_extension), whose gin_trgm_ops a trigram index needs. */
  trigramInstalled?: boolean;
  /**
   * A partitioned table's leaf partitions (up to MAX_PARTITIONS, by name), whose rows `rows` sums;
   * `partitionCount` counts them all.
   */
  partitions?: {
    schema: string;
    name: string;
    /** Partitioned itself (a sub-partitioned partition): its index is made ON ONLY it and its own partitions' attached. */
    partitioned?: true;
    /** The partitioned partition it is a partition of; absent for the table's own partitions. */
    of?: { schema: string; name: string };
  }[];
  partitionCount?: number;
}

export interface IndexLimits {
  minTableRows: number;
  maxColumns: number;
}

export type TableDecision =
  | { proposal: IndexProposal }
  /** `covering`: the existing index a `covered` skip names (an OR's summary reads it: index-or.ts). */
  | { skip: { table: string; reason: IndexSkipReason; detail: string }; covering?: ExistingIndex };

/** Equality columns are added until the planner would expect at most this many rows per lookup. */
const FEW_ROWS = 10;
/**
 * An equality-only index expected to match more than this share of the table is not proposed: for a
 * flag's common side or `IS NULL` on a mostly-null column PostgreSQL keeps its Seq Scan even with the
 * index built, so the index would only cost writes. (Under it, a bitmap scan can still win: at a third
 * of a 120k-row table the planner chose one.)
 */
const UNSELECTIVE_SHARE = 0.4;
/** The planner's share for an equality it has no statistics on (DEFAULT_EQ_SEL): an expression's, until indexed. */
const DEFAULT_EQ_SHARE = 0.005;

/**
 * A table, a materialized view or a partitioned table: what takes an index (a partitioned one
 * through its partitions, partitionedIndexSql), not a view or a foreign table.
 */
export function indexable(info: Pick<TableInfo, 'relkind'>): boolean {
  return info.relkind === 'r' || info.relkind === 'm' || info.relkind === 'p';
}

/** Skips a LIKE/ILIKE beside the `=`/range columns is named in (patternBeside). */
const BESIDE_SKIPS = new Set<IndexSkipReason>(['covered', 'plan-uses-index']);

export function planTableIndex(
  uses: PlannedUse[],
  info: TableInfo,
  plan: PlanEvidence | undefined,
  hasLimit: boolean,
  limits: IndexLimits,
): TableDecision {
  const decision = planKeys(uses, info, plan, hasLimit, limits);
  if (!uses.some((u) => u.use === 'eq' || u.use === 'range')) return decision;
  // `flag = $1 AND name ILIKE $2` with the flag's common side: the pattern is what an index can serve.
  if ('skip' in decision && decision.skip.reason === 'unselective')
    return patternDecision(uses, info, plan) ?? decision;
  if ('skip' in decision && !BESIDE_SKIPS.has(decision.skip.reason)) return decision;
  return patternBeside(decision, uses, info);
}

/** The index for the `=`/range/ORDER BY columns, or for a LIKE/ILIKE alone (index-pattern.ts). */
function planKeys(
  uses: PlannedUse[],
  info: TableInfo,
  plan: PlanEvidence | undefined,
  hasLimit: boolean,
  limits: IndexLimits,
): TableDecision {
  const table = displayTable(info);
  const skip = (reason: IndexSkipReason, detail: string): TableDecision => ({
    skip: { table, reason, detail },
  });
  if (!indexable(info)) return skip('not-a-table', `relkind '${info.relkind}' cannot take an index`);
  if (info.rows < limits.minTableRows) {
    return skip(
      'small-table',
      `~${Math.round(info.rows)} rows, under ${limits.minTableRows}: a scan is as cheap as an index`,
    );
  }
  const inTable = uses.filter((u) =>
    u.expression ? u.expression.columns.every((c) => info.columns.has(c)) : info.columns.has(u.column),
  );
  const known = inTable.filter((u) => !u.expression?.unindexable);
  const expressions = new Map(known.flatMap((u) => (u.expression ? [[u.column, u.expression]] : [])));
  const of = (use: ColumnUse, not: string[] = []) => [
    ...new Set(known.filter((u) => u.use === use && !not.includes(u.column)).map((u) => u.column)),
  ];
  // The share of rows an equality on the column matches, when the statement says which value it
  // matches (IS NULL, a bare boolean column); undefined for `= $1` or without statistics.
  const knownShare = (c: string): number | undefined =>
    namedShare(
      known.filter((u) => u.column === c && u.use === 'eq'),
      info.stats.get(c),
    );
  // For ordering columns: that share, else one value's share of the non-null rows.
  const matchShare = (c: string): number | undefined => {
    const share = knownShare(c);
    if (share !== undefined) return share;
    if (expressions.has(c)) return DEFAULT_EQ_SHARE;
    return valueShare(info.stats.get(c));
  };
  const eq = bySelectivity(of('eq'), matchShare);
  const range = bySelectivity(of('range', eq), matchShare);
  const order = of('order');
  const join = bySelectivity(of('join', eq), matchShare);
  let columns: string[];
  // Columns an index would have to return in ORDER BY order (not ones an equality pins).
  let sorted: string[] = [];
  if (eq.length === 0 && range.length === 0) {
    const fallback = join.length ? join.slice(0, 1) : hasLimit ? order : [];
    // A LIKE/ILIKE or a containment test is this table's filter: its index comes before a join or
    // ORDER BY column's.
    const pattern = patternDecision(known, info, plan) ?? containmentDecision(known, info, plan);
    if (pattern)
      return patternBeforeKeys(pattern, info, join.length ? { join: fallback } : { order: fallback });
    const unindexable = inTable.flatMap((u) => u.expression?.unindexable ?? []);
    if (fallback.length === 0 && unindexable.length)
      return skip('unindexable-expression', [...new Set(unindexable)].join('; '));
    if (fallback.length === 0)
      return skip('no-usable-columns', 'no indexable filter, join or ORDER BY … LIMIT column');
    // Without a filter an index on a join/sort column only pays when the plan shows the full scan.
    if (!plan?.seqScan) {
      const why = plan
        ? 'the generic plan does not scan it sequentially'
        : 'it could not be planned without values';
      return skip('needs-plan', `only joined or ordered on ${fallback.join(', ')}, and ${why}`);
    }
    columns = fallback.slice(0, limits.maxColumns);
    if (!join.length) sorted = [...columns];
  } else {
    columns = [];
    let share: number | undefined = 1;
    let expected = info.rows;
    for (const c of eq) {
      if (columns.length >= limits.maxColumns || expected <= FEW_ROWS) break;
      columns.push(c);
      const named = knownShare(c);
      share = named === undefined || share === undefined ? undefined : share * named;
      expected *= matchShare(c) ?? 1;
    }
    const tail = range.length ? range.slice(0, 1) : order.filter((c) => !columns.includes(c));
    if (tail.length === 0 && share !== undefined && share > UNSELECTIVE_SHARE) {
      const isNullTest = (c: string) => known.some((u) => u.column === c && u.matches === 'null');
      const what = columns.map((c) => (isNullTest(c) ? `${c} IS NULL` : c)).join(', ');
      return skip(
        'unselective',
        `(${what}) matches ~${Math.round(share * 100)}% of its ~${Math.round(info.rows)} rows: a Seq Scan reads them as cheaply, so an index would only cost writes`,
      );
    }
    for (const c of tail) {
      if (columns.length >= limits.maxColumns || (columns.length > 0 && expected <= FEW_ROWS)) break;
      columns.push(c);
      if (!range.length) sorted.push(c);
    }
  }
  const sort = sortDirections(sorted, known);
  const canonical = new Map([...expressions].flatMap(([c, e]) => (e.canonical ? [[c, e.canonical]] : [])));
  const cover = info.indexes.find((ix) => covers(ix, columns, eq.length, { sort, canonical }));
  if (cover) {
    const detail = `existing index ${describeIndex(cover)} already covers (${columns.join(', ')})`;
    return { ...skip('covered', detail), covering: cover };
  }
  if (plan && !plan.seqScan) {
    return skip('plan-uses-index', `the generic plan reads ${table} without a Seq Scan (${plan.shape})`);
  }
  // A failed concurrent build leaves its index INVALID: rebuild that one rather than add another.
  const invalid = info.indexes.find(
    (ix) => !ix.valid && covers({ ...ix, valid: true }, columns, eq.length, { sort, canonical }),
  );
  const keys = columns.map((c) => keySql(c, expressions.get(c)) + directionSql(sort.get(c)));
  const partitioned = info.relkind === 'p';
  // An INVALID index on a partitioned table is one whose partitions are not all attached yet:
  // createIndexSql's statements finish it.
  const create =
    invalid && !partitioned
      ? {
          statement: `REINDEX INDEX CONCURRENTLY ${displayTable({ schema: info.schema, name: invalid.name })};`,
        }
      : indexStatement(info, invalid?.name ?? indexName(info, columns, expressions), keys.join(', '), {
          columns,
          expressions,
        });
  return {
    proposal: {
      table,
      columns,
      ...create,
      tableRows: info.rows,
      existingIndexes: info.indexes.filter((ix) => ix.valid).map(describeIndex),
      ...(invalid && !partitioned ? { invalidIndex: invalid.name } : {}),
      ...(plan ? { plan } : {}),
    },
  };
}

/** Most selective first (smallest share of rows matched); columns without statistics keep their order after. */
function bySelectivity(columns: string[], matchShare: (c: string) => number | undefined): string[] {
  return columns
    .map((c, i) => ({ c, i, s: matchShare(c) ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.s - b.s || a.i - b.i)
    .map((x) => x.c);
}

/**
 * The directions of the ORDER BY columns an index must keep, when a plain ascending index cannot:
 * a btree is read forwards or backwards, so all-ASC and all-DESC (with default NULLS) need none,
 * while `a DESC, b ASC` or `a DESC NULLS LAST` need the keys spelt as the ORDER BY has them.
 */
function sortDirections(sorted: string[], known: PlannedUse[]): Map<string, SortDirection> {
  const dirs = sorted.map((c) => {
    const u = known.find((x) => x.use === 'order' && x.column === c);
    const desc = u?.desc === true;
    return { c, desc, nullsFirst: u?.nullsFirst ?? desc };
  });
  const plain = dirs.every((d) => !d.desc && !d.nullsFirst) || dirs.every((d) => d.desc && d.nullsFirst);
  return new Map(plain ? [] : dirs.map((d) => [d.c, { desc: d.desc, nullsFirst: d.nullsFirst }]));
}

/**
 * An existing index covers the proposal when its leading key columns are the proposed ones
 * (equality columns in any order, then the rest in order, with the directions `sort` asks for
 * read forwards or all reversed), or it is unique on a subset of the equality columns (at most
 * one row per lookup already). Expression keys match by PostgreSQL's spelling (`canonical`).
 */
export function covers(
  ix: ExistingIndex,
  proposed: string[],
  eqCount: number,
  options: {
    sort?: ReadonlyMap<string, SortDirection>;
    canonical?: ReadonlyMap<string, string>;
  } = {},
): boolean {
  if (!ix.valid || ix.partial || proposed.length === 0) return false;
  // An expression key compares by its spelling, marked so that no column name can equal it.
  const expressionKey = (canonical: string) => `\u0000${canonical}`;
  const keys = ix.columns.map((c, i) => {
    const e = ix.expressions?.[i];
    return c ?? (e ? expressionKey(e.canonical) : null);
  });
  const columns = proposed.map((c) => {
    const e = options.canonical?.get(c);
    return e === undefined ? c : expressionKey(e);
  });
  // A hash index answers equality only: not a range, a sort or a LIMIT's order.
  if (ix.method === 'hash') return eqCount >= 1 && columns.length === 1 && keys[0] === columns[0];
  if (ix.method !== 'btree') return false;
  const eqPart = columns.slice(0, Math.min(eqCount, columns.length));
  // A pattern_ops key answers `=` (and LIKE prefixes) but sorts bytewise: no range or ORDER BY in
  // the column's collation. Other classes than the default are not judged.
  const answersEq = (i: number) => !ix.opclasses?.[i] || ix.opclasses[i]?.endsWith('_pattern_ops');
  const answersAll = (i: number) => !ix.opclasses?.[i];
  if (ix.unique && keys.length > 0 && keys.every((k, i) => k !== null && eqPart.includes(k) && answersEq(i)))
    return true;
  if (keys.length < columns.length) return false;
  const lead = keys.slice(0, eqPart.length);
  if (!eqPart.every((c) => lead.includes(c))) return false;
  if (!columns.slice(eqPart.length).every((c, i) => keys[eqPart.length + i] === c)) return false;
  if (!columns.every((_, i) => (i < eqPart.length ? answersEq(i) : answersAll(i)))) return false;
  return directionsFit(ix, proposed.slice(eqPart.length), eqPart.length, options.sort);
}

/** Each sorted key's direction matches the ORDER BY's, or each is its exact reverse (a backward scan). */
function directionsFit(
  ix: ExistingIndex,
  tail: string[],
  offset: number,
  sort: ReadonlyMap<string, SortDirection> | undefined,
): boolean {
  const matches = tail.flatMap((c, j) => {
    const want = sort?.get(c);
    if (!want) return [];
    const desc = ix.desc?.[offset + j] ?? false;
    const nullsFirst = ix.nullsFirst?.[offset + j] ?? false;
    if (desc === want.desc && nullsFirst === want.nullsFirst) return ['same'];
    return [desc !== want.desc && nullsFirst !== want.nullsFirst ? 'reversed' : 'neither'];
  });
  return matches.every((m) => m === 'same') || matches.every((m) => m === 'reversed');
}
