/** The slow-query report: one row per (service, fingerprint), window-scoped. */
import type { Aggregator } from '../aggregate/aggregator';
import { checkQuery, finishReport, per, type ReportSpec, roundMs, roundRatio } from './report-query';
import type { EndpointShare, QueryRow, Report, ReportQuery } from './types';

export const QUERY_REPORT: ReportSpec<QueryRow> = {
  sortable: [
    'totalMs',
    'calls',
    'errors',
    'meanMs',
    'p50Ms',
    'p95Ms',
    'p99Ms',
    'maxMs',
    'shareOfDbTime',
    'maxCallsPerRequest',
  ],
  defaultSort: 'totalMs',
  identity: (r) => `${r.service}\u0000${r.statement}\u0000${r.fingerprint}`,
};

export function queryReport(
  agg: Aggregator,
  query: ReportQuery,
  nowMs: number = agg.now(),
): Report<QueryRow> {
  const q = checkQuery(query, QUERY_REPORT);
  const rows: QueryRow[] = [];
  const dbMsByService = new Map<string, number>();
  for (const state of agg.queries.rows()) {
    if (q.service !== undefined && state.service !== q.service) continue;
    const acc = state.stats.snapshot(q.window, nowMs);
    if (acc.calls === 0) continue;
    dbMsByService.set(state.service, (dbMsByService.get(state.service) ?? 0) + acc.totalMs);
    const topEndpoints: EndpointShare[] = acc.top
      .top(agg.topEndpoints)
      .map((k) => ({ endpoint: k.key, calls: k.count }));
    rows.push({
      service: state.service,
      system: state.system,
      fingerprint: state.fingerprint,
      statement: state.statement,
      operation: state.operation,
      table: state.table,
      calls: acc.calls,
      errors: acc.errors,
      totalMs: roundMs(acc.totalMs),
      meanMs: roundMs(per(acc.totalMs, acc.calls)),
      p50Ms: roundMs(acc.sketch.quantile(0.5)),
      p95Ms: roundMs(acc.sketch.quantile(0.95)),
      p99Ms: roundMs(acc.sketch.quantile(0.99)),
      maxMs: roundMs(acc.maxMs),
      // Exact total kept until the service sum is known (rounded below).
      shareOfDbTime: acc.totalMs,
      topEndpoints,
      exampleTraceId: acc.maxTraceId,
      maxCallsPerRequest: acc.maxCallsPerRequest,
    });
  }
  for (const row of rows)
    row.shareOfDbTime = roundRatio(per(row.shareOfDbTime, dbMsByService.get(row.service) ?? 0));
  return finishReport(rows, q, QUERY_REPORT, agg.windowRange(q.window, nowMs));
}
