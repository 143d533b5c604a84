/**
 * Slow statements (p95 over a threshold with enough calls) and top consumers (a large share of
 * the service's DB time), plus the pick of statements worth an index check.
 */
import type { QueryRow } from '../../reports/types';
import { tableName } from '../predicate-columns';
import type { AdvisorInput, AdvisorThresholds, IndexCandidate, IndexFinding, Target } from '../types';
import { fmtMs, fmtPct, OVERFLOW, type RuleContext, round, shortStatement } from './context';
import { lockAction, lockEvidence, lockTitle, lockWaitOf } from './locks';

const INDEXABLE_OPERATIONS = new Set(['SELECT', 'UPDATE', 'DELETE']);

export function isSlow(q: QueryRow, t: AdvisorThresholds): boolean {
  return q.calls >= t.slowQuery.minCalls && q.p95Ms >= t.slowQuery.p95Ms;
}

export function isTopConsumer(q: QueryRow, t: AdvisorThresholds): boolean {
  const c = t.topConsumer;
  return q.calls >= c.minCalls && q.shareOfDbTime >= c.minShare && q.totalMs >= c.minTotalMs;
}

function usable(q: QueryRow): boolean {
  return q.statement !== OVERFLOW && q.fingerprint !== '' && q.statement !== '';
}

function queryTarget(q: QueryRow): Target {
  return {
    type: 'fingerprint',
    value: q.fingerprint,
    statement: q.statement,
    ...(q.table ? { table: q.table } : {}),
  };
}

/**
 * PostgreSQL SELECT/UPDATE/DELETE statements that are slow, top consumers, or (PgHero) have a mean
 * over missingIndex.minMeanMs with enough calls; most DB time first.
 */
export function indexCandidates(input: AdvisorInput, t: AdvisorThresholds): IndexCandidate[] {
  const out: { c: IndexCandidate; totalMs: number }[] = [];
  for (const q of input.queries) {
    if (!usable(q) || !/^postgres/i.test(q.system)) continue;
    if (!INDEXABLE_OPERATIONS.has(q.operation.toUpperCase())) continue;
    if (q.calls < t.missingIndex.minCalls) continue;
    const reason = isSlow(q, t)
      ? 'slow'
      : isTopConsumer(q, t)
        ? 'top-consumer'
        : q.meanMs >= t.missingIndex.minMeanMs
          ? 'mean'
          : undefined;
    if (!reason) continue;
    out.push({
      c: { service: q.service, fingerprint: q.fingerprint, statement: q.statement, reason },
      totalMs: q.totalMs,
    });
  }
  return out.sort((a, b) => b.totalMs - a.totalMs).map((x) => x.c);
}

export function queryRules(ctx: RuleContext): void {
  const t = ctx.t;
  for (const q of ctx.input.queries) {
    if (!usable(q)) continue;
    const target = queryTarget(q);
    if (q.calls >= t.slowQuery.minCalls) ctx.observe('slow-query', q.service, target);
    if (q.calls >= t.topConsumer.minCalls) ctx.observe('top-consumer', q.service, target);
    const index = ctx.indexFinding(q.service, q.fingerprint);
    const raised = ctx.raised('slow-query', q.service, target);
    const slow =
      isSlow(q, t) ||
      (q.calls >= t.slowQuery.minCalls && ctx.holds(q.p95Ms, t.slowQuery.p95Ms, raised !== undefined));
    if (slow) {
      const critical =
        q.p95Ms >= t.slowQuery.criticalP95Ms ||
        ctx.holds(q.p95Ms, t.slowQuery.criticalP95Ms, raised === 'critical');
      // A statement that waits on locks is slow because of another transaction: that advice first.
      const locks = lockWaitOf(ctx, q);
      ctx.emit({
        kind: 'slow-query',
        severity: critical ? 'critical' : 'warning',
        service: q.service,
        target,
        title:
          `Slow query: ${shortStatement(q.statement)} p95 ${fmtMs(q.p95Ms)} over ${q.calls} calls` +
          (locks ? lockTitle(locks) : ''),
        evidence: {
          ...queryEvidence(q),
          p95ThresholdMs: t.slowQuery.p95Ms,
          ...indexEvidence(index),
          ...(locks ? lockEvidence(ctx, locks) : {}),
        },
        action: locks
          ? `${lockAction(ctx, locks)}If it is still slow once it no longer waits: ${indexAction(index, q)} Statement: ${q.statement}`
          : `${indexAction(index, q)} Statement: ${q.statement}`,
        exampleTraceId: q.exampleTraceId || undefined,
      });
    } else if (isTopConsumerHeld(ctx, q, target) && !reportedAsNPlusOne(ctx, q)) {
      const repeated = q.maxCallsPerRequest >= t.nPlusOne.minRepeats;
      const wasWarning = ctx.raised('top-consumer', q.service, target) === 'warning';
      const share = q.shareOfDbTime;
      ctx.emit({
        kind: 'top-consumer',
        severity: share >= WARNING_SHARE || ctx.holds(share, WARNING_SHARE, wasWarning) ? 'warning' : 'info',
        service: q.service,
        target,
        title: `Top DB consumer: ${shortStatement(q.statement)} takes ${fmtPct(q.shareOfDbTime)} of DB time`,
        evidence: { ...queryEvidence(q), minShare: t.topConsumer.minShare, ...indexEvidence(index) },
        action:
          `It takes ${fmtPct(q.shareOfDbTime)} of the service's DB time (${q.calls} calls, mean ${fmtMs(q.meanMs)}). ` +
          (repeated
            ? `It runs up to ${q.maxCallsPerRequest}× in one request: batch those calls (see n-plus-one). `
            : 'Call it less (cache the result if it may be slightly stale) or make each call cheaper. ') +
          `${indexAction(index, q)} Statement: ${q.statement}`,
        exampleTraceId: q.exampleTraceId || undefined,
      });
    }
  }
}

/** A top consumer's share of DB time from which it is a warning rather than info. */
const WARNING_SHARE = 0.6;

/**
 * isTopConsumer, or, while its recommendation is active, a share that has not yet dropped past
 * topConsumer.minShare by advisor.clearMargin (a share hovering at the line kept opening and
 * resolving it, and flipping its severity label at 60%).
 */
function isTopConsumerHeld(ctx: RuleContext, q: QueryRow, target: Target): boolean {
  const c = ctx.t.topConsumer;
  if (isTopConsumer(q, ctx.t)) return true;
  const held = ctx.raised('top-consumer', q.service, target) !== undefined;
  return q.calls >= c.minCalls && q.totalMs >= c.minTotalMs && ctx.holds(q.shareOfDbTime, c.minShare, held);
}

/** An N+1 finding already explains the statement's share of DB time and says what to do. */
function reportedAsNPlusOne(ctx: RuleContext, q: QueryRow): boolean {
  return ctx.findings.some(
    (f) => f.kind === 'n-plus-one' && f.service === q.service && f.target.value === q.fingerprint,
  );
}

function queryEvidence(q: QueryRow) {
  return {
    calls: q.calls,
    errors: q.errors,
    meanMs: round(q.meanMs),
    p50Ms: round(q.p50Ms),
    p95Ms: round(q.p95Ms),
    p99Ms: round(q.p99Ms),
    maxMs: round(q.maxMs),
    totalMs: round(q.totalMs),
    shareOfDbTime: round(q.shareOfDbTime, 4),
    maxCallsPerRequest: q.maxCallsPerRequest,
    topEndpoints: q.topEndpoints.map((e) => e.endpoint),
  };
}

/** `<table>.<column> (=)`, `(range)`, `(join)`, `(ORDER BY)`, `(@>)`. */
export function describeColumns(finding: IndexFinding): string[] {
  const sign = {
    eq: '=',
    range: 'range',
    join: 'join',
    order: 'ORDER BY',
    like: 'LIKE',
    ilike: 'ILIKE',
    contains: '',
  } as const;
  return finding.columns.map((c) => {
    const table = c.table ? tableName(c.table) : (c.candidates ?? []).map(tableName).join('|');
    return `${table ? `${table}.` : ''}${c.column} (${c.operator ?? sign[c.use]})`;
  });
}

function indexEvidence(finding: IndexFinding | undefined) {
  if (!finding) return {};
  return {
    filteredColumns: describeColumns(finding),
    indexChecked: finding.checked,
    ...(finding.proposals.length ? { proposedIndexes: finding.proposals.map((p) => p.statement) } : {}),
  };
}

function indexAction(finding: IndexFinding | undefined, q: QueryRow): string {
  const explain = 'Run EXPLAIN (ANALYZE, BUFFERS) on it with typical values';
  if (!finding) return `${explain}: look for Seq Scans on large tables, sorts and rows read then discarded.`;
  const cols = describeColumns(finding);
  if (finding.proposals.length) {
    return `Add the missing index (see missing-index): ${finding.proposals.map((p) => p.statement).join(' ')}`;
  }
  if (!finding.checked) {
    const what = cols.length ? `It filters on ${cols.join(', ')}; ` : '';
    const why = finding.error ? ` (the check failed: ${finding.error})` : '';
    return (
      `${what}no index was checked${why} — give the sidecar a read-only connection ` +
      "(advisor.postgresUrl or SPANSTAT_ADVISOR_POSTGRES_URL; advisor.databases for this service's own) to check indexes, table sizes and the plan, " +
      `or ${explain.toLowerCase()}.`
    );
  }
  const reasons = finding.skipped.map((s) => `${s.table}: ${s.detail}`).join('; ');
  const opHint =
    q.operation.toUpperCase() === 'SELECT' ? ' and fetched columns/rows (SELECT *, no LIMIT)' : '';
  const all = (reason: string) =>
    finding.skipped.length > 0 && finding.skipped.every((s) => s.reason === reason);
  const lead = all('unselective')
    ? 'No index would help'
    : all('unindexable-expression')
      ? 'No index can hold what it filters on as written'
      : all('needs-rewrite')
        ? 'An existing index would serve its filter written another way'
        : all('like-pattern')
          ? 'An index can serve its LIKE only for a prefix pattern'
          : all('or-branch')
            ? 'No set of indexes can serve its OR, which PostgreSQL reads through indexes only with one per branch'
            : 'Indexes look adequate';
  return `${lead} (${reasons || 'no filtered columns'}). ${explain}: check row estimates, sorts${opHint}.`;
}
