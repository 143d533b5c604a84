import { describe, expect, it } from 'vitest';
import { type Evaluation, evaluateDetailed } from '../../src/advise/evaluate';
import { RecommendationStore } from '../../src/advise/store';
import type { Recommendation } from '../../src/advise/types';
import { endpointRow, input, thresholds } from './advise-fixtures';

const slow = (p95Ms: number, route = '/orders/:id') => endpointRow({ p95Ms, route });
const evaluateAt = (nowMs: number, ...endpoints: ReturnType<typeof endpointRow>[]) =>
  evaluateDetailed(input({ endpoints }), thresholds(), nowMs);
const options = { maxEntries: 100, resolvedRetentionMs: 3_600_000, unobservedResolveMs: 900_000 };

describe('recommendation store', () => {
  it('keeps the id and first-seen time of a recurring finding and moves last-seen', () => {
    const store = new RecommendationStore(options);
    store.update(evaluateAt(1000, slow(300)), 1000);
    store.update(evaluateAt(2000, slow(350)), 2000);
    const [rec] = store.list();
    expect(store.size).toBe(1);
    expect(rec).toMatchObject({
      state: 'active',
      firstSeenMs: 1000,
      lastSeenMs: 2000,
      evidence: { p95Ms: 350 },
    });
    expect(rec.id).toBe(evaluateAt(0, slow(999)).recommendations[0].id);
  });

  it('resolves a finding whose target was observed healthy in the window', () => {
    const store = new RecommendationStore(options);
    store.update(evaluateAt(1000, slow(300)), 1000);
    const changes = store.update(evaluateAt(2000, slow(150)), 2000);
    expect(changes.resolved.map((r) => r.kind)).toEqual(['endpoint-slow']);
    expect(store.list()[0]).toMatchObject({ state: 'resolved', resolvedAtMs: 2000, lastSeenMs: 1000 });
  });

  it('keeps a finding active while its target has no traffic, and resolves it after unobservedResolveMs', () => {
    const store = new RecommendationStore(options);
    store.update(evaluateAt(0, slow(300)), 0);
    store.update(evaluateAt(899_999), 899_999);
    expect(store.list()[0].state).toBe('active');
    store.update(evaluateAt(900_000), 900_000);
    expect(store.list()[0].state).toBe('resolved');
  });

  it('re-opens a resolved finding that comes back, keeping its first-seen time', () => {
    const store = new RecommendationStore(options);
    store.update(evaluateAt(1000, slow(300)), 1000);
    store.update(evaluateAt(2000, slow(100)), 2000);
    const changes = store.update(evaluateAt(3000, slow(300)), 3000);
    expect(changes.opened).toHaveLength(1);
    const [rec] = store.list();
    expect(rec).toMatchObject({ state: 'active', firstSeenMs: 1000, lastSeenMs: 3000 });
    expect(rec.resolvedAtMs).toBeUndefined();
  });

  it('forgets resolved findings after the retention', () => {
    const store = new RecommendationStore({ ...options, resolvedRetentionMs: 10_000 });
    store.update(evaluateAt(0, slow(300)), 0);
    store.update(evaluateAt(1000, slow(100)), 1000);
    store.update(evaluateAt(10_999), 10_999);
    expect(store.size).toBe(1);
    store.update(evaluateAt(11_000), 11_000);
    expect(store.size).toBe(0);
  });

  it('stays within maxEntries, dropping resolved findings before active ones', () => {
    const store = new RecommendationStore({ ...options, maxEntries: 2 });
    store.update(evaluateAt(0, slow(300, '/a')), 0);
    store.update(evaluateAt(1, slow(100, '/a'), slow(300, '/b')), 1);
    store.update(evaluateAt(2, slow(100, '/a'), slow(300, '/b'), slow(300, '/c')), 2);
    expect(store.list().map((r) => `${r.target.value}:${r.state}`)).toEqual([
      'GET /b:active',
      'GET /c:active',
    ]);
  });

  it('filters by service, kind and state', () => {
    const store = new RecommendationStore(options);
    const other: Evaluation = evaluateAt(0, slow(300), { ...slow(300), service: 'other', serverErrors: 50 });
    store.update(other, 0);
    const pick = (f: Parameters<RecommendationStore['list']>[0]) =>
      store.list(f).map((r: Recommendation) => `${r.service}/${r.kind}`);
    expect(pick({ service: 'other' })).toEqual(['other/endpoint-errors', 'other/endpoint-slow']);
    expect(pick({ kind: 'endpoint-slow' })).toEqual(['other/endpoint-slow', 'svc/endpoint-slow']);
    expect(pick({ state: 'resolved' })).toEqual([]);
  });
});
