/** A deploy tracker on a fake clock and request summaries of one route, for the deploy tests. */
import { DEFAULTS } from '../../src/config/defaults';
import { type DeployThresholds, DeployTracker } from '../../src/deploys';
import type { RequestSummary } from '../../src/model/request-summary';

/** 2026-11-24 12:00:00 UTC. */
export const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
export const MIN = 60_000;
export const ITEMS_FP = 'fp-items';
export const ORDER_FP = 'fp-order';
export const STATEMENTS: Record<string, string> = {
  [ORDER_FP]: 'SELECT id, total FROM orders WHERE id = $1',
  [ITEMS_FP]: 'SELECT sku, qty FROM order_items WHERE order_id = $1',
};

export interface FakeClock {
  now: number;
}

/** `statements`: what the aggregator knows (a restarted sidecar's knows only what ran since). */
export function tracker(
  clock: FakeClock,
  deploy: Partial<DeployThresholds> = {},
  statements: Record<string, string> = STATEMENTS,
): DeployTracker {
  return new DeployTracker({
    thresholds: { ...DEFAULTS.advisor.deploy, ...deploy },
    relativeAccuracy: 0.01,
    recordNow: () => clock.now,
    statementOf: (_service, fp) => statements[fp],
  });
}

/** One GET /orders/:id: the order's query, and `items` look-ups of its items (one per item: an N+1). */
export function orderRequest(
  version: string,
  o: Partial<RequestSummary> & { items?: number } = {},
): RequestSummary {
  const items = o.items ?? 1;
  return {
    service: 'shop',
    version,
    traceId: 'a'.repeat(32),
    method: 'GET',
    route: '/orders/:id',
    status: 200,
    error: false,
    durationMs: 42,
    dbMs: 1 + 2 * items,
    cacheMs: 0,
    poolWaitMs: 0,
    queries: 1 + items,
    cacheOps: 0,
    fingerprints: [
      { fingerprint: ORDER_FP, calls: 1, totalMs: 1 },
      ...(items > 0 ? [{ fingerprint: ITEMS_FP, calls: items, totalMs: 2 * items }] : []),
    ],
    namespaces: [],
    ...o,
  };
}

/** Serves `n` requests of `version` (its resource announced first, as the pipeline does), one per second. */
export function serve(
  t: DeployTracker,
  clock: FakeClock,
  version: string,
  n: number,
  o: Partial<RequestSummary> & { items?: number } = {},
): void {
  for (let i = 0; i < n; i++) {
    t.versionSeen('shop', version, clock.now);
    t.recordRequest(orderRequest(version, o));
    clock.now += 1000;
  }
}
