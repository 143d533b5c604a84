/**
 * N+1 queries, per (service, route, fingerprint), from the endpoint-query rows. Sentry's detector
 * (one statement ≥5 times in a request, ≥50 ms together) makes a warning; repeats that are still
 * cheap (under minTotalMs) are reported as info, like perf-sentinel does — the pattern grows with
 * the data. The aggregator counts requests over its repeat threshold; time is judged on their mean.
 */
import type { EndpointQueryRow } from '../../reports/types';
import type { Target } from '../types';
import { endpointLabel, fmtMs, fmtPct, OVERFLOW, type RuleContext, round, shortStatement } from './context';

export function nPlusOneRule(ctx: RuleContext): void {
  const t = ctx.t.nPlusOne;
  for (const row of ctx.input.endpointQueries) {
    if (row.route === OVERFLOW || row.statement === OVERFLOW || row.statement === '') continue;
    const route = endpointLabel(row.method, row.route);
    const target: Target = { type: 'fingerprint', value: row.fingerprint, route, statement: row.statement };
    if (row.requestsWithQuery >= t.minAffectedRequests) ctx.observe('n-plus-one', row.service, target);
    const affected = row.requestsOverThreshold;
    if (affected < t.minAffectedRequests || row.maxCallsPerRequest < t.minRepeats) continue;
    const repeatMsPerRequest = row.overThresholdMs / affected;
    const share = row.requests > 0 ? affected / row.requests : 0;
    const slo = ctx.sloFor(row.method, row.route);
    const query = ctx.query(row.service, row.fingerprint);
    const table = query?.table;
    ctx.emit({
      kind: 'n-plus-one',
      severity:
        repeatMsPerRequest >= slo ? 'critical' : repeatMsPerRequest >= t.minTotalMs ? 'warning' : 'info',
      service: row.service,
      target: table ? { ...target, table } : target,
      title: `N+1 in ${route}: ${shortStatement(row.statement)} runs up to ${row.maxCallsPerRequest}× per request`,
      evidence: {
        routeRequests: row.requests,
        requestsWithQuery: row.requestsWithQuery,
        requestsAffected: affected,
        shareOfRequestsAffected: round(share, 4),
        meanCallsPerRequest: round(row.meanCallsPerRequest),
        maxCallsPerRequest: row.maxCallsPerRequest,
        repeatMsPerAffectedRequest: round(repeatMsPerRequest),
        msPerRequest: round(row.msPerRequest),
        routeSloMs: slo,
        ...(query ? { shareOfDbTime: round(query.shareOfDbTime, 4) } : {}),
      },
      action: nPlusOneAction(row, share, repeatMsPerRequest),
      exampleTraceId: row.exampleTraceId || undefined,
    });
  }
}

function nPlusOneAction(row: EndpointQueryRow, share: number, repeatMs: number): string {
  const batched = batchedStatement(row.statement);
  const batch = batched
    ? `run it once for all ids: ${batched} (pass the collected ids as one array parameter)`
    : 'run it once for all ids with `= ANY($1)` on the looked-up column (one array parameter)';
  return (
    `${fmtPct(share)} of requests run \`${shortStatement(row.statement, 200)}\` once per item ` +
    `(${fmtMs(repeatMs)} per affected request). Collect the ids first and ${batch}; ` +
    'or JOIN the rows into the query that produced the ids; or batch the look-ups per request ' +
    'with a loader (e.g. DataLoader).'
  );
}

/** `… WHERE t.col = $1` → `… WHERE t.col = ANY($1)` when the statement has exactly one `= $n`. */
export function batchedStatement(statement: string): string | undefined {
  const pattern = /((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)\s*=\s*(\$\d+)(?![\d])/g;
  const matches = [...statement.matchAll(pattern)];
  if (matches.length !== 1) return undefined;
  const m = matches[0];
  const flat = `${statement.slice(0, m.index)}${m[1]} = ANY(${m[2]})${statement.slice((m.index ?? 0) + m[0].length)}`;
  return flat.replace(/\s+/g, ' ').trim();
}
