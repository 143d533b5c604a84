/**
 * Missing indexes: proposals the index check verified against the database (table size,
 * existing indexes, statistics, generic plan). One recommendation per statement.
 */
import { MAX_LISTED_PARTITIONS } from '../index-plan';
import type { IndexProposal, Target } from '../types';
import { fmtMs, OVERFLOW, type RuleContext, round, shortStatement } from './context';
import { indexCandidates } from './queries';

export function missingIndexRule(ctx: RuleContext): void {
  const t = ctx.t;
  const candidates = new Set(indexCandidates(ctx.input, t).map((c) => `${c.service}\n${c.fingerprint}`));
  for (const q of ctx.input.queries) {
    if (q.statement === OVERFLOW || q.fingerprint === '') continue;
    const target: Target = { type: 'fingerprint', value: q.fingerprint, statement: q.statement };
    const finding = ctx.indexFinding(q.service, q.fingerprint);
    // Cleared when the statement ran enough and is no longer a candidate, or a completed check found nothing.
    const isCandidate = candidates.has(`${q.service}\n${q.fingerprint}`);
    if (q.calls >= t.missingIndex.minCalls && (!isCandidate || (finding?.checked && !finding.error))) {
      ctx.observe('missing-index', q.service, target);
    }
    if (!isCandidate || !finding?.checked || finding.proposals.length === 0) continue;
    const main = finding.proposals[0];
    const seqScan = finding.proposals.some((p) => p.plan?.seqScan);
    ctx.emit({
      kind: 'missing-index',
      severity: q.p95Ms >= t.slowQuery.criticalP95Ms && seqScan ? 'critical' : 'warning',
      service: q.service,
      target: { ...target, table: main.table },
      title: `${main.invalidIndex ? 'Invalid' : 'Missing'} index on ${main.table} (${main.columns.join(', ')}) for ${shortStatement(q.statement, 50)}`,
      evidence: {
        calls: q.calls,
        meanMs: round(q.meanMs),
        p95Ms: round(q.p95Ms),
        shareOfDbTime: round(q.shareOfDbTime, 4),
        ...proposalEvidence(main),
        ...(finding.proposals.length > 1
          ? { otherProposals: finding.proposals.slice(1).map((p) => p.statement) }
          : {}),
      },
      action: indexAction(finding.proposals, q.p95Ms),
      exampleTraceId: q.exampleTraceId || undefined,
    });
  }
}

function proposalEvidence(p: IndexProposal) {
  return {
    table: p.table,
    tableRows: Math.round(p.tableRows),
    indexColumns: p.columns,
    existingIndexes: p.existingIndexes,
    ...(p.invalidIndex ? { invalidIndex: p.invalidIndex } : {}),
    ...(p.partitions !== undefined ? { partitions: p.partitions } : {}),
    ...(p.otherPartitionsSql ? { otherPartitionsSql: p.otherPartitionsSql } : {}),
    ...(p.extension
      ? { extension: `${p.extension.name} (${p.extension.installed ? 'installed' : 'not installed'})` }
      : {}),
    ...(p.rewrite ? { rewrite: `${p.rewrite.from} → ${p.rewrite.to}` } : {}),
    ...(p.note ? { note: p.note } : {}),
    ...(p.bitmapOr
      ? { orBranches: `PostgreSQL combines one index per OR branch with a BitmapOr: ${p.bitmapOr}` }
      : {}),
    planChecked: p.plan ? p.plan.method : 'not plannable without values',
    ...(p.plan
      ? {
          planSeqScan: p.plan.seqScan,
          planShape: p.plan.shape,
          planTotalCost: round(p.plan.totalCost),
          ...(p.plan.seqScanRows !== undefined ? { planSeqScanRows: p.plan.seqScanRows } : {}),
        }
      : {}),
  };
}

/** The recommendation's action for a statement's proposals. Exported for tests. */
export function indexAction(proposals: IndexProposal[], p95Ms: number): string {
  const statements = proposals.map((p) => p.statement).join(' ');
  const first = proposals[0];
  if (first.invalidIndex) {
    return (
      `${first.table} has an index on (${first.columns.join(', ')}), ${first.invalidIndex}, but it is INVALID — ` +
      'a CREATE INDEX CONCURRENTLY that failed or was cancelled: the planner ignores it while every write ' +
      `still updates it (p95 ${fmtMs(p95Ms)}). Run: ${statements} (or DROP INDEX CONCURRENTLY it and create it ` +
      'again), outside a transaction; if the build failed on a unique violation, fix the duplicates first.'
    );
  }
  const why = first.plan?.seqScan
    ? `The generic plan reads all ~${Math.round(first.tableRows)} rows of ${first.table} with a Seq Scan (p95 ${fmtMs(p95Ms)}).`
    : `${first.table} has ~${Math.round(first.tableRows)} rows and no index on these columns (p95 ${fmtMs(p95Ms)}).`;
  // An OR is read through indexes only as a BitmapOr of one Bitmap Index Scan per branch.
  const or = first.bitmapOr
    ? ` Its OR can use indexes only through a BitmapOr, which needs an index for every branch (${first.bitmapOr}).`
    : '';
  const shows = first.bitmapOr
    ? 'a BitmapOr over the indexes'
    : first.extension || first.method === 'gin'
      ? 'a Bitmap Index Scan on it'
      : 'an Index Scan';
  // A trigram index's operator class comes with its extension, which CREATE EXTENSION installs once.
  // An OR's proposals: the trigram one needs it whichever branch comes first.
  const ext = proposals.find((p) => p.extension)?.extension;
  const setup = !ext
    ? ''
    : ext.installed
      ? ` It needs the ${ext.name} extension, which is installed.`
      : ` It needs the ${ext.name} extension, which is not installed: first run CREATE EXTENSION IF NOT EXISTS ${ext.name}; (as a role allowed to create it; the contrib package must be on the server).`;
  const note = first.note ? ` (${first.note})` : '';
  // An index that serves the filter only once the app writes it another way: the rewrite comes first.
  const rewrite = proposals.find((p) => p.rewrite)?.rewrite;
  const rewriteFirst = rewrite
    ? ` No index serves its ${rewrite.from} as written: change the statement to ${rewrite.to} (the same rows), which the index below serves.`
    : '';
  if (first.partitions !== undefined) {
    const unlisted = first.partitions - MAX_LISTED_PARTITIONS;
    const queries = proposals.flatMap((p) => (p.otherPartitionsSql ? [p.otherPartitionsSql] : []));
    const rest =
      unlisted > 0
        ? ` — and the same two statements for each of the other ${unlisted} partitions, which ${queries.length > 1 ? 'these queries write' : 'this query writes'} for every partition, one per row in order (the ones above again, which then do nothing); in psql, end it with \\gexec to run them: ${queries.join(' ; ')}`
        : '';
    return (
      `${why}${or}${rewriteFirst}${setup} It is partitioned (${first.partitions} partitions), and PostgreSQL cannot build an index on a ` +
      "partitioned table concurrently, so create it on the parent only, then build each partition's concurrently and " +
      `attach it: ${statements}${rest}${note}. Run them outside a transaction; the parent's index becomes valid once ` +
      `every partition's is attached, and partitions added later get one by themselves. Then ANALYZE the table and check that EXPLAIN reads the partitions through the new indexes.`
    );
  }
  return (
    `${why}${or}${rewriteFirst}${setup} Run: ${statements}${note} ` +
    '(CONCURRENTLY builds without blocking writes; run it outside a transaction), then ANALYZE the table ' +
    `and check that EXPLAIN shows ${shows}.`
  );
}
