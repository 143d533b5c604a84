/** The endpoint report: latency, errors, rate and per-request time split per (service, method, route). */
import type { Aggregator } from '../aggregate/aggregator';
import type { EndpointAcc } from '../aggregate/endpoint-stats';
import {
  checkQuery,
  finishReport,
  type NumericKey,
  per,
  type ReportSpec,
  roundMs,
  roundRatio,
} from './report-query';
import type { EndpointRow, Report, ReportQuery, RequestFigures } from './types';

/** The columns of RequestFigures a report of them sorts by. */
export const REQUEST_FIGURE_SORTS: readonly NumericKey<RequestFigures>[] = [
  'requests',
  'errors',
  'errorRate',
  'serverErrors',
  'rps',
  'p50Ms',
  'p95Ms',
  'p99Ms',
  'maxMs',
  'dbMsPerRequest',
  'cacheMsPerRequest',
  'otherMsPerRequest',
  'poolWaitMsPerRequest',
  'queriesPerRequest',
  'cacheOpsPerRequest',
];

export const ENDPOINT_REPORT: ReportSpec<EndpointRow> = {
  sortable: REQUEST_FIGURE_SORTS,
  defaultSort: 'requests',
  identity: (r) => `${r.service}\u0000${r.route}\u0000${r.method}`,
};

/** Seconds a rate is divided by at least, so the first request after start does not read as a huge rate. */
const MIN_RATE_SECONDS = 1;

/** The window's length in seconds, as rates are divided by it. */
export function rateSeconds(range: { fromMs: number; toMs: number }): number {
  return Math.max(MIN_RATE_SECONDS, (range.toMs - range.fromMs) / 1000);
}

/** An endpoint accumulator (one route's, or several merged) as report figures; `acc.requests` > 0. */
export function requestFigures(acc: EndpointAcc, seconds: number): RequestFigures {
  const n = acc.requests;
  return {
    requests: n,
    errors: acc.errors,
    errorRate: roundRatio(acc.errors / n),
    serverErrors: acc.serverErrors,
    rps: roundRatio(n / seconds),
    p50Ms: roundMs(acc.sketch.quantile(0.5)),
    p95Ms: roundMs(acc.sketch.quantile(0.95)),
    p99Ms: roundMs(acc.sketch.quantile(0.99)),
    maxMs: roundMs(acc.maxMs),
    dbMsPerRequest: roundMs(per(acc.dbMs, n)),
    cacheMsPerRequest: roundMs(per(acc.cacheMs, n)),
    otherMsPerRequest: roundMs(per(acc.otherMs, n)),
    poolWaitMsPerRequest: roundMs(per(acc.poolWaitMs, n)),
    queriesPerRequest: roundRatio(per(acc.queries, n)),
    cacheOpsPerRequest: roundRatio(per(acc.cacheOps, n)),
    exampleTraceId: acc.maxTraceId,
  };
}

export function endpointReport(
  agg: Aggregator,
  query: ReportQuery,
  nowMs: number = agg.now(),
): Report<EndpointRow> {
  const q = checkQuery(query, ENDPOINT_REPORT);
  const range = agg.windowRange(q.window, nowMs);
  const seconds = rateSeconds(range);
  const rows: EndpointRow[] = [];
  for (const state of agg.endpoints.rows()) {
    if (q.service !== undefined && state.service !== q.service) continue;
    const acc = state.stats.snapshot(q.window, nowMs);
    if (acc.requests === 0) continue;
    rows.push({
      service: state.service,
      method: state.method,
      route: state.route,
      ...requestFigures(acc, seconds),
    });
  }
  return finishReport(rows, q, ENDPOINT_REPORT, range);
}
