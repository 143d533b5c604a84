/**
 * Index advice for an OR (`a = $1 OR b = $2`): PostgreSQL can read it through indexes only with a
 * BitmapOr, one Bitmap Index Scan per branch, so every branch needs an index of its own. Each branch
 * is planned like an AND of its conditions (planTableIndex); the OR gets the indexes its branches
 * lack, or nothing, with the branch that stops it, when one branch cannot be served at all.
 */
import {
  describeIndex,
  displayTable,
  type IndexLimits,
  type PlannedUse,
  planTableIndex,
  type TableDecision,
  type TableInfo,
} from './index-plan';
import { type OrGroup, type PredicateColumn, sameTable, type TableRef, tableName } from './predicate-columns';
import type { IndexProposal, PlanEvidence } from './types';

/**
 * The one table every branch of the OR filters, or why there is none: a branch with no indexable
 * condition, or one on another table (or one the catalog could not place), which a BitmapOr over one
 * table's indexes cannot serve.
 */
export function orGroupTable(group: OrGroup, onlyTable?: TableRef): OrGroup & { table?: TableRef } {
  // No branch names a table (`a <> $1 OR b <> $2`): a one-table statement's skip still goes to its table.
  const table = group.branches.flat().find((c) => c.table)?.table ?? onlyTable;
  if (group.unindexable) return { ...group, table };
  const n = group.branches.length;
  for (const [i, branch] of group.branches.entries()) {
    const other = branch.find((c: PredicateColumn) => !sameTable(c.table, table));
    if (!other) continue;
    const where = other.table
      ? `on ${tableName(other.table)}, another table than ${table ? tableName(table) : '?'}`
      : 'on a column of no single known table';
    return {
      ...group,
      table,
      unindexable: `OR branch ${i + 1} of ${n} filters ${where} (${other.column}): a BitmapOr combines one table's indexes`,
    };
  }
  return { ...group, table };
}

/** Proposals for the branches no existing index serves, or one skip saying why none. */
export function planOrGroup(
  branches: PlannedUse[][],
  info: TableInfo,
  plan: PlanEvidence | undefined,
  limits: IndexLimits,
): TableDecision[] {
  const table = displayTable(info);
  const n = branches.length;
  // The plan is judged for the whole OR below, not per branch.
  const decisions = branches.map((b) => planTableIndex(b, info, undefined, false, limits));
  const first = decisions[0];
  if ('skip' in first && (first.skip.reason === 'small-table' || first.skip.reason === 'not-a-table'))
    return [first];
  const blocked = decisions.findIndex((d) => 'skip' in d && d.skip.reason !== 'covered');
  const blocker = decisions[blocked];
  if (blocker && 'skip' in blocker) {
    const detail = `OR branch ${blocked + 1} of ${n}: ${blocker.skip.detail}; a BitmapOr needs an index for every branch, so none is proposed`;
    return [{ skip: { table, reason: 'or-branch', detail } }];
  }
  // Every branch is proposed an index or covered by one (the rest blocked above).
  const served = (d: TableDecision) =>
    'proposal' in d
      ? d.proposal.extension
        ? 'the trigram index proposed'
        : 'the index proposed'
      : `existing index ${d.covering ? describeIndex(d.covering) : '?'}`;
  const branchSummary = decisions
    .map(
      (d, i) =>
        `branch ${i + 1} (${[...new Set(branches[i].map((u) => u.column))].join(', ')}): ${served(d)}`,
    )
    .join('; ');
  // A gin/gist index on a branch is a trigram one: the planner proposes or counts no other kind.
  const trigram = decisions.map((d) =>
    'proposal' in d ? !!d.proposal.extension : d.covering?.method === 'gin' || d.covering?.method === 'gist',
  );
  const mixed = trigram.some(Boolean) && !trigram.every(Boolean);
  const summary = mixed
    ? `${branchSummary}; one BitmapOr combines the gin (trigram) and btree Bitmap Index Scans`
    : branchSummary;
  const proposals: IndexProposal[] = [];
  for (const d of decisions) {
    if ('proposal' in d && !proposals.some((p) => p.statement === d.proposal.statement))
      proposals.push({ ...d.proposal, bitmapOr: summary, ...(plan ? { plan } : {}) });
  }
  if (proposals.length === 0)
    return [
      {
        skip: {
          table,
          reason: 'covered',
          detail: `every OR branch has an index (${summary}), which PostgreSQL combines with a BitmapOr`,
        },
      },
    ];
  if (plan && !plan.seqScan)
    return [
      {
        skip: {
          table,
          reason: 'plan-uses-index',
          detail: `the generic plan reads ${table} without a Seq Scan (${plan.shape})`,
        },
      },
    ];
  return proposals.map((proposal) => ({ proposal }));
}
