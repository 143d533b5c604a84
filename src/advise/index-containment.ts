/**
 * Index advice for containment and key tests on an array or jsonb column (`tags @> $1`, `tags && $1`,
 * `attrs @> $1`, `attrs ? $1`), which no btree serves and a GIN index does. A jsonb column tested only
 * with `@>` gets `jsonb_path_ops`: smaller and quicker to search than the default `jsonb_ops`, which the
 * key tests (`?`, `?|`, `?&`) need. `<@` and `&&` are served on arrays (GIN's default array_ops) only.
 * A plain column only: a GIN index on an expression (`(attrs -> 'tags')`) is not proposed. Beside an
 * `=` or range filter the btree for those is proposed instead (index-plan.ts), as for LIKE.
 * `x = ANY(tags)` matches the same rows as `tags @> ARRAY[x]`, but no index serves it as written: the
 * advice is the rewrite and, unless one exists, the GIN index that then serves it.
 */
import { quoteIdent } from '../sql/quote-ident';
import { describeIndex, displayTable, indexName, indexStatement } from './index-naming';
import type { ExistingIndex, PlannedUse, TableDecision, TableInfo } from './index-plan';
import { ANY_ELEMENT, type ContainmentOperator } from './predicate-columns';
import type { PlanEvidence } from './types';

/** What a GIN index's default operator class serves, per column type. */
const SERVED: Record<'jsonb' | 'array', ReadonlySet<ContainmentOperator>> = {
  jsonb: new Set(['@>', '?', '?|', '?&']),
  array: new Set(['@>', '<@', '&&']),
};
const PATH_OPS = 'jsonb_path_ops';

/** The decision for the first array or jsonb column of `uses` tested by an operator GIN serves, if any. */
export function containmentDecision(
  uses: PlannedUse[],
  info: TableInfo,
  plan: PlanEvidence | undefined,
): TableDecision | undefined {
  for (const column of new Set(uses.filter((u) => u.use === 'contains').map((u) => u.column))) {
    const type = info.containers?.get(column);
    if (type === undefined) continue;
    const tests = new Set(
      uses.flatMap((u) => (u.use === 'contains' && u.column === column && u.operator) || []),
    );
    const rewrite = type === 'array' && tests.has(ANY_ELEMENT);
    // Rewritten, an element test is a containment test.
    if (rewrite) tests.add('@>');
    const operators = [...tests].filter((op) => SERVED[type].has(op));
    if (operators.length === 0) continue;
    return decide(column, type, operators, info, plan, rewrite ? anyElementRewrite(column) : undefined);
  }
  return undefined;
}

function anyElementRewrite(column: string): { from: string; to: string } {
  return { from: `x = ANY(${column})`, to: `${column} @> ARRAY[x]` };
}

function decide(
  column: string,
  type: 'jsonb' | 'array',
  operators: ContainmentOperator[],
  info: TableInfo,
  plan: PlanEvidence | undefined,
  rewrite: { from: string; to: string } | undefined,
): TableDecision {
  const table = displayTable(info);
  const what = operators.map((op) => `${column} ${op} …`).join(', ');
  const pathOps = type === 'jsonb' && operators.every((op) => op === '@>');
  const existing = info.indexes.find((ix) => servesContainment(ix, column, pathOps));
  if (existing && rewrite) {
    const detail = `existing index ${describeIndex(existing)} serves ${rewrite.to}, but not ${rewrite.from} as the statement writes it: write it ${rewrite.to} (the same rows)`;
    return { skip: { table, reason: 'needs-rewrite', detail } };
  }
  if (existing) {
    const detail = `existing index ${describeIndex(existing)} already serves ${what}`;
    return { skip: { table, reason: 'covered', detail }, covering: existing };
  }
  if (plan && !plan.seqScan) {
    const detail = `the generic plan reads ${table} without a Seq Scan (${plan.shape})`;
    return { skip: { table, reason: 'plan-uses-index', detail } };
  }
  const naming = { columns: [column, 'gin'], expressions: new Map() };
  const key = `${quoteIdent(column)}${pathOps ? ` ${PATH_OPS}` : ''}`;
  const note = rewrite
    ? `no index serves ${rewrite.from}; written ${rewrite.to}, which matches the same rows, a GIN index does`
    : type === 'array'
      ? `no btree serves ${what}; a GIN index does (a test written $1 = ANY(${column}) cannot use it: write it ${column} @> ARRAY[$1])`
      : pathOps
        ? `no btree serves ${what}; a GIN index with ${PATH_OPS} does, at a fraction of the default jsonb_ops's size — use jsonb_ops (no operator class) if the app also tests keys with ?, ?| or ?&`
        : `no btree serves ${what}; a GIN index with the default jsonb_ops, which the key tests need, does`;
  return {
    proposal: {
      table,
      columns: [column],
      ...indexStatement(info, indexName(info, naming.columns, naming.expressions), key, naming, ' USING gin'),
      tableRows: info.rows,
      existingIndexes: info.indexes.filter((ix) => ix.valid).map(describeIndex),
      method: 'gin',
      ...(rewrite ? { rewrite } : {}),
      note,
      ...(plan ? { plan } : {}),
    },
  };
}

/** A valid, whole-table GIN index led by `column` whose operator class serves the tests. */
function servesContainment(ix: ExistingIndex, column: string, pathOpsEnough: boolean): boolean {
  if (!ix.valid || ix.partial || ix.method !== 'gin' || ix.columns[0] !== column) return false;
  const opclass = ix.opclasses?.[0] ?? null;
  return opclass === null || (opclass === PATH_OPS && pathOpsEnough);
}
