/**
 * PromQL fragments for the dashboards, built from the metric names in src/metrics/names.ts so a
 * renamed metric changes every panel (and the stale-JSON test says so).
 */
import { METRICS } from '../../src/metrics/names';

/** Every panel filters on the dashboard's `service` variable (multi-value, "All" = `.*`). */
export const SVC = 'service=~"$service"';
/** Grafana picks a rate window of at least 4 scrape intervals. */
export const RATE = '$__rate_interval';
/** Instant table queries cover the dashboard's whole time range. */
export const RANGE = '$__range';

export const M = {
  db: METRICS.dbQueryDuration.name,
  dbErrors: METRICS.dbQueryErrors.name,
  dbInfo: METRICS.dbQueryInfo.name,
  nPlusOne: METRICS.dbNPlusOne.name,
  poolWait: METRICS.dbPoolWaitDuration.name,
  poolInUse: METRICS.dbPoolClientsInUse.name,
  poolMax: METRICS.dbPoolClientsMax.name,
  poolWaiting: METRICS.dbPoolWaiting.name,
  lockWait: METRICS.dbLockWait.name,
  idleInTransaction: METRICS.dbIdleInTransaction.name,
  cacheReads: METRICS.cacheReads.name,
  cacheWrites: METRICS.cacheWrites.name,
  cacheNoExpiry: METRICS.cacheWritesWithoutExpiry.name,
  cache: METRICS.cacheCommandDuration.name,
  http: METRICS.httpRequestDuration.name,
  httpComponent: METRICS.httpRequestComponentTime.name,
  httpQueries: METRICS.httpRequestDbQueries.name,
  recommendation: METRICS.recommendationActive.name,
  serviceVersion: METRICS.serviceVersionInfo.name,
  recommendationInfo: METRICS.recommendationInfo.name,
  spansReceived: METRICS.spansReceived.name,
  spansRejected: METRICS.spansRejected.name,
  spansDropped: METRICS.spansDropped.name,
  preloadSpansLost: METRICS.preloadSpansLost.name,
  forwardedSpans: METRICS.forwardedSpans.name,
  requestsRefused: METRICS.otlpRequestsRefused.name,
  decodeErrors: METRICS.decodeErrors.name,
  queueDepth: METRICS.queueDepth.name,
  memory: METRICS.memory.name,
  overflow: METRICS.seriesOverflow.name,
} as const;

/** `sum by (<by>) (rate(<metric>{service=~"$service",<extra>}[<window>]))` */
/**
 * Active recommendations, each id once (`by` adds grouping labels): the sidecars of several pods of a
 * service report the same id, which the SpanstatRecommendation alert also counts as one.
 */
export function activeRecommendations(by = ''): string {
  return `max by (service, id${by ? `, ${by}` : ''}) (${M.recommendation}{${SVC}})`;
}

export function sumRate(metric: string, by: string, extra = '', window = RATE): string {
  const grouping = by ? ` by (${by})` : '';
  return `sum${grouping} (rate(${metric}{${selector(extra)}}[${window}]))`;
}

/** Same with increase(): counts over the window, for tables. */
export function sumIncrease(metric: string, by: string, extra = '', window = RANGE): string {
  const grouping = by ? ` by (${by})` : '';
  return `sum${grouping} (increase(${metric}{${selector(extra)}}[${window}]))`;
}

/** Quantile of a histogram over `window`, grouped by `by` (le added). */
export function quantile(q: number, histogram: string, by: string, extra = '', window = RATE): string {
  const grouping = by ? `${by}, le` : 'le';
  return `histogram_quantile(${q}, sum by (${grouping}) (rate(${histogram}_bucket{${selector(extra)}}[${window}])))`;
}

/** Mean of a histogram (sum / count) over `window`. */
export function mean(histogram: string, by: string, window = RATE): string {
  return `${sumRate(`${histogram}_sum`, by, '', window)} / ${sumRate(`${histogram}_count`, by, '', window)}`;
}

/**
 * Adds the `statement` label from the info metric. topk(1) per fingerprint keeps the join
 * one-to-one even when several sidecars report slightly different statement texts.
 */
export function withStatement(expr: string): string {
  return (
    `(${expr}) * on (service, fingerprint) group_left (statement) ` +
    `topk by (service, fingerprint) (1, max by (service, fingerprint, statement) (${M.dbInfo}))`
  );
}

/** `expr`, or 0 for every series of `fallback` that `expr` lacks (e.g. namespaces with no hits). */
export function orZero(expr: string, fallback: string): string {
  // Parenthesised whole: `/` binds tighter than `or`, so a caller's `orZero(…) / x` would divide only the fallback.
  return `((${expr}) or (0 * ${fallback}))`;
}

/** Hit rate per (service, namespace); namespaces with no hit at all read 0, not "no data". */
export function hitRate(window: string, fn: 'rate' | 'increase' = 'rate'): string {
  const sum = fn === 'rate' ? sumRate : sumIncrease;
  const total = sum(M.cacheReads, 'service, namespace', 'result=~"hit|miss"', window);
  return orZero(`${sum(M.cacheReads, 'service, namespace', 'result="hit"', window)} / ${total}`, total);
}

function selector(extra: string): string {
  return extra ? `${SVC},${extra}` : SVC;
}
