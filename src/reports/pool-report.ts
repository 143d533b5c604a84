/** The pool report: time waiting for a pooled DB connection and peak clients in use, per pool of each service. */
import type { Aggregator } from '../aggregate/aggregator';
import { checkQuery, finishReport, per, type ReportSpec, roundMs, roundRatio } from './report-query';
import type { PoolRow, Report, ReportQuery } from './types';

export const POOL_REPORT: ReportSpec<PoolRow> = {
  sortable: [
    'totalWaitMs',
    'connects',
    'errors',
    'meanWaitMs',
    'p50WaitMs',
    'p95WaitMs',
    'p99WaitMs',
    'maxWaitMs',
    'maxInUse',
    'poolMax',
    'maxInUseRatio',
    'saturatedConnects',
    'maxWaiting',
  ],
  defaultSort: 'totalWaitMs',
  identity: (r) => `${r.service}\u0000${r.system}\u0000${r.pool}`,
};

export function poolReport(agg: Aggregator, query: ReportQuery, nowMs: number = agg.now()): Report<PoolRow> {
  const q = checkQuery(query, POOL_REPORT);
  const rows: PoolRow[] = [];
  for (const state of agg.pools.rows()) {
    if (q.service !== undefined && state.service !== q.service) continue;
    const acc = state.stats.snapshot(q.window, nowMs);
    // A pool whose checkouts never waited shows through its usage samples alone.
    if (acc.connects === 0 && acc.maxInUse < 0) continue;
    const maxInUse = acc.maxInUse >= 0 ? acc.maxInUse : null;
    const poolMax = acc.poolMax > 0 ? acc.poolMax : null;
    rows.push({
      service: state.service,
      system: state.system,
      pool: state.pool,
      connects: acc.connects,
      errors: acc.errors,
      totalWaitMs: roundMs(acc.totalWaitMs),
      meanWaitMs: roundMs(per(acc.totalWaitMs, acc.connects)),
      p50WaitMs: roundMs(acc.sketch.quantile(0.5)),
      p95WaitMs: roundMs(acc.sketch.quantile(0.95)),
      p99WaitMs: roundMs(acc.sketch.quantile(0.99)),
      maxWaitMs: roundMs(acc.maxMs),
      maxInUse,
      poolMax,
      maxInUseRatio: maxInUse !== null && poolMax !== null ? roundRatio(maxInUse / poolMax) : null,
      saturatedConnects: acc.saturated,
      maxWaiting: acc.maxWaiting >= 0 ? acc.maxWaiting : null,
      exampleTraceId: acc.maxTraceId,
    });
  }
  return finishReport(rows, q, POOL_REPORT, agg.windowRange(q.window, nowMs));
}
