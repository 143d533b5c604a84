/**
 * Per-request use reports: one row per (endpoint, fingerprint) — the N+1 evidence — and per
 * (endpoint, cache namespace) — the missing-MGET evidence. Means are over the requests that
 * used the statement or namespace at least once.
 */
import type { Aggregator } from '../aggregate/aggregator';
import { OVERFLOW_KEY, OVERFLOW_LABEL } from '../aggregate/bounded-table';
import type { EndpointAcc } from '../aggregate/endpoint-stats';
import { type UseAcc, type UseState, useEndpoint } from '../aggregate/use-stats';
import { checkQuery, finishReport, per, type ReportSpec, roundMs, roundRatio } from './report-query';
import type { EndpointCacheRow, EndpointQueryRow, Report, ReportQuery, WindowName } from './types';

export const ENDPOINT_QUERY_REPORT: ReportSpec<EndpointQueryRow> = {
  sortable: [
    'requestsOverThreshold',
    'requests',
    'requestsWithQuery',
    'calls',
    'meanCallsPerRequest',
    'maxCallsPerRequest',
    'overThresholdMs',
    'totalMs',
    'msPerRequest',
  ],
  defaultSort: 'requestsOverThreshold',
  identity: (r) => `${r.service}\u0000${r.route}\u0000${r.method}\u0000${r.fingerprint}`,
};

export const ENDPOINT_CACHE_REPORT: ReportSpec<EndpointCacheRow> = {
  sortable: [
    'requestsOverThreshold',
    'requests',
    'requestsWithOps',
    'ops',
    'meanOpsPerRequest',
    'maxOpsPerRequest',
    'singleReadsPerRequest',
    'overThresholdMs',
    'totalMs',
    'msPerRequest',
  ],
  defaultSort: 'requestsOverThreshold',
  identity: (r) => `${r.service}\u0000${r.route}\u0000${r.method}\u0000${r.namespace}`,
};

const requestsOf = (acc: EndpointAcc) => acc.requests;

interface UseLine {
  state: UseState;
  acc: UseAcc;
  method: string;
  route: string;
  /** Endpoint requests in the window (the row's own count on an overflow row). */
  requests: number;
}

function* useLines(
  rows: Iterable<UseState>,
  window: WindowName,
  service: string | undefined,
  nowMs: number,
): Generator<UseLine> {
  const endpointRequests = new Map<object, number>();
  for (const state of rows) {
    if (service !== undefined && state.service !== service) continue;
    const acc = state.stats.snapshot(window, nowMs);
    if (acc.requests === 0) continue;
    const { method, route } = useEndpoint(state);
    let requests = acc.requests;
    const endpoint = state.endpoint;
    if (endpoint !== null) {
      let n = endpointRequests.get(endpoint);
      if (n === undefined) {
        n = endpoint.stats.sum(window, nowMs, requestsOf);
        endpointRequests.set(endpoint, n);
      }
      requests = Math.max(n, acc.requests);
    }
    yield { state, acc, method, route, requests };
  }
}

export function endpointQueryReport(
  agg: Aggregator,
  query: ReportQuery,
  nowMs: number = agg.now(),
): Report<EndpointQueryRow> {
  const q = checkQuery(query, ENDPOINT_QUERY_REPORT);
  const rows: EndpointQueryRow[] = [];
  for (const { state, acc, method, route, requests } of useLines(
    agg.queryUses.rows(),
    q.window,
    q.service,
    nowMs,
  )) {
    const overflow = state.endpoint === null;
    const statement = overflow
      ? OVERFLOW_LABEL
      : (agg.queries.get(state.service, state.key)?.statement ?? '');
    rows.push({
      service: state.service,
      method,
      route,
      fingerprint: overflow ? OVERFLOW_KEY : state.key,
      statement,
      requests,
      requestsWithQuery: acc.requests,
      calls: acc.calls,
      meanCallsPerRequest: roundRatio(per(acc.calls, acc.requests)),
      maxCallsPerRequest: acc.maxCalls,
      requestsOverThreshold: acc.overThreshold,
      overThresholdMs: roundMs(acc.overThresholdMs),
      totalMs: roundMs(acc.totalMs),
      msPerRequest: roundMs(per(acc.totalMs, acc.requests)),
      exampleTraceId: acc.maxTraceId,
    });
  }
  return finishReport(rows, q, ENDPOINT_QUERY_REPORT, agg.windowRange(q.window, nowMs));
}

export function endpointCacheReport(
  agg: Aggregator,
  query: ReportQuery,
  nowMs: number = agg.now(),
): Report<EndpointCacheRow> {
  const q = checkQuery(query, ENDPOINT_CACHE_REPORT);
  const rows: EndpointCacheRow[] = [];
  for (const { state, acc, method, route, requests } of useLines(
    agg.cacheUses.rows(),
    q.window,
    q.service,
    nowMs,
  )) {
    rows.push({
      service: state.service,
      method,
      route,
      namespace: state.endpoint === null ? OVERFLOW_LABEL : state.key,
      requests,
      requestsWithOps: acc.requests,
      ops: acc.calls,
      meanOpsPerRequest: roundRatio(per(acc.calls, acc.requests)),
      maxOpsPerRequest: acc.maxCalls,
      singleReadsPerRequest: roundRatio(per(acc.singleReads, acc.requests)),
      requestsOverThreshold: acc.overThreshold,
      overThresholdMs: roundMs(acc.overThresholdMs),
      totalMs: roundMs(acc.totalMs),
      msPerRequest: roundMs(per(acc.totalMs, acc.requests)),
      exampleTraceId: acc.maxTraceId,
    });
  }
  return finishReport(rows, q, ENDPOINT_CACHE_REPORT, agg.windowRange(q.window, nowMs));
}
