/** The cache report: hit rate and latency per (service, system, namespace), window-scoped. */
import type { Aggregator } from '../aggregate/aggregator';
import { checkQuery, finishReport, type ReportSpec, roundMs, roundRatio } from './report-query';
import type { CacheRow, Report, ReportQuery } from './types';

export const CACHE_REPORT: ReportSpec<CacheRow> = {
  sortable: [
    'reads',
    'calls',
    'hits',
    'misses',
    'hitRate',
    'writes',
    'errors',
    'p50Ms',
    'p99Ms',
    'minTtlSeconds',
    'maxTtlSeconds',
    'noExpiryWrites',
    'noExpiryWritesPerMin',
    'expirySets',
  ],
  defaultSort: 'reads',
  identity: (r) => `${r.service}\u0000${r.system}\u0000${r.namespace}`,
};

/** Minutes a rate is divided by at least, so the first writes after start do not read as a huge rate. */
const MIN_RATE_MINUTES = 1;

export function cacheReport(
  agg: Aggregator,
  query: ReportQuery,
  nowMs: number = agg.now(),
): Report<CacheRow> {
  const q = checkQuery(query, CACHE_REPORT);
  const range = agg.windowRange(q.window, nowMs);
  const minutes = Math.max(MIN_RATE_MINUTES, (range.toMs - range.fromMs) / 60_000);
  const rows: CacheRow[] = [];
  for (const state of agg.cache.rows()) {
    if (q.service !== undefined && state.service !== q.service) continue;
    const acc = state.stats.snapshot(q.window, nowMs);
    // Reads without calls: keys of this namespace that another's MGET looked up (its command and
    // latency stay with its first key's namespace), yet they are this namespace's hits and misses.
    if (acc.calls === 0 && acc.reads === 0) continue;
    const known = acc.hits + acc.misses;
    const commands: Record<string, number> = {};
    for (const name of [...acc.commands.keys()].sort()) commands[name] = acc.commands.get(name) as number;
    rows.push({
      service: state.service,
      system: state.system,
      namespace: state.namespace,
      hits: acc.hits,
      misses: acc.misses,
      hitRate: known > 0 ? roundRatio(acc.hits / known) : null,
      reads: acc.reads,
      writes: acc.writes,
      calls: acc.calls,
      errors: acc.errors,
      p50Ms: roundMs(acc.sketch.quantile(0.5)),
      p99Ms: roundMs(acc.sketch.quantile(0.99)),
      commands,
      minTtlSeconds: Number.isFinite(acc.minTtl) ? acc.minTtl : null,
      maxTtlSeconds: Number.isFinite(acc.maxTtl) ? acc.maxTtl : null,
      noExpiryWrites: acc.noExpiryWrites,
      untimedWrites: acc.untimedWrites,
      noExpiryWritesPerMin: roundRatio((acc.noExpiryWrites + acc.untimedWrites) / minutes),
      expirySets: acc.expirySets,
      topEndpoints: acc.top.top(agg.topEndpoints).map((k) => ({ endpoint: k.key, calls: k.count })),
    });
  }
  return finishReport(rows, q, CACHE_REPORT, agg.windowRange(q.window, nowMs));
}
