/**
 * The service report: each service's requests (and, apart, its job and consumer runs) summed over its
 * routes — count, rate, errors, percentiles of a sketch merged from the routes' own, and the share of
 * their time spent in the database, the cache, pool waits and the rest. The one-line answer to where
 * a service's time goes, before the per-route and per-statement reports say why.
 */
import type { Aggregator } from '../aggregate/aggregator';
import { type EndpointAcc, endpointOps } from '../aggregate/endpoint-stats';
import { CONSUMER_METHOD, JOB_METHOD } from '../model/classified';
import { REQUEST_FIGURE_SORTS, rateSeconds, requestFigures } from './endpoint-report';
import { checkQuery, finishReport, per, type ReportSpec, roundRatio } from './report-query';
import type { Report, ReportQuery, ServiceRow } from './types';

export const SERVICE_REPORT: ReportSpec<ServiceRow> = {
  sortable: [...REQUEST_FIGURE_SORTS, 'routes', 'dbShare', 'cacheShare', 'poolWaitShare', 'otherShare'],
  defaultSort: 'requests',
  identity: (r) => `${r.service}\u0000${r.kind}`,
};

export function serviceReport(
  agg: Aggregator,
  query: ReportQuery,
  nowMs: number = agg.now(),
): Report<ServiceRow> {
  const q = checkQuery(query, SERVICE_REPORT);
  const range = agg.windowRange(q.window, nowMs);
  const seconds = rateSeconds(range);
  // The routes' sketches share one accuracy (aggregation.relativeAccuracy): the first one's sets it.
  let ops: ReturnType<typeof endpointOps> | undefined;
  const groups = new Map<
    string,
    { service: string; kind: ServiceRow['kind']; acc: EndpointAcc; routes: number }
  >();
  for (const state of agg.endpoints.rows()) {
    if (q.service !== undefined && state.service !== q.service) continue;
    const acc = state.stats.snapshot(q.window, nowMs);
    if (acc.requests === 0) continue;
    const kind = state.method === JOB_METHOD || state.method === CONSUMER_METHOD ? 'jobs' : 'requests';
    const key = `${state.service}\u0000${kind}`;
    let group = groups.get(key);
    ops ??= endpointOps(acc.sketch.relativeAccuracy);
    if (group === undefined) {
      group = { service: state.service, kind, acc: ops.create(), routes: 0 };
      groups.set(key, group);
    }
    ops.merge(group.acc, acc, false);
    group.routes++;
  }
  const rows: ServiceRow[] = [];
  for (const { service, kind, acc, routes } of groups.values()) {
    // The request time split (summarise-request.ts) makes the four add up to the units' wall time.
    const time = acc.dbMs + acc.cacheMs + acc.poolWaitMs + acc.otherMs;
    rows.push({
      service,
      kind,
      routes,
      ...requestFigures(acc, seconds),
      dbShare: roundRatio(per(acc.dbMs, time)),
      cacheShare: roundRatio(per(acc.cacheMs, time)),
      poolWaitShare: roundRatio(per(acc.poolWaitMs, time)),
      otherShare: roundRatio(per(acc.otherMs, time)),
    });
  }
  return finishReport(rows, q, SERVICE_REPORT, range);
}
