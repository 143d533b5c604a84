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

describe('recommendation store snapshot (state.file)', () => {
  /** What the state file does to a snapshot: JSON out and back. */
  const viaFile = (store: RecommendationStore) => JSON.parse(JSON.stringify(store.snapshot()));

  it('restores every entry as it was: ids, first/last seen, state, texts and figures', () => {
    const before = new RecommendationStore(options);
    before.update(evaluateAt(1000, slow(300, '/a'), slow(300, '/b')), 1000);
    before.update(evaluateAt(2000, slow(350, '/a'), slow(100, '/b')), 2000);
    const after = new RecommendationStore(options);
    expect(after.restore(viaFile(before), 3000)).toEqual([]);
    expect(after.list()).toEqual(before.list());
    expect(after.list().map((r) => [r.target.value, r.state, r.firstSeenMs, r.lastSeenMs])).toEqual([
      ['GET /a', 'active', 1000, 2000],
      ['GET /b', 'resolved', 1000, 1000],
    ]);
  });

  it('carries a restored finding on when it is found again: no re-open, the first-seen time kept', () => {
    const before = new RecommendationStore(options);
    before.update(evaluateAt(1000, slow(300)), 1000);
    const after = new RecommendationStore(options);
    after.restore(viaFile(before), 5000);
    // The first evaluation after a restart: the window is empty, nothing observed; it stays active.
    expect(after.update(evaluateAt(5000), 5000)).toEqual({ opened: [], resolved: [] });
    expect(after.update(evaluateAt(6000, slow(320)), 6000)).toEqual({ opened: [], resolved: [] });
    expect(after.list()[0]).toMatchObject({ state: 'active', firstSeenMs: 1000, lastSeenMs: 6000 });
  });

  it('resolves a restored finding by the same rules: observed healthy, or unseen for unobservedResolveMs', () => {
    const before = new RecommendationStore(options);
    before.update(evaluateAt(0, slow(300, '/a'), slow(300, '/b')), 0);
    const after = new RecommendationStore(options);
    after.restore(viaFile(before), 60_000);
    const healthy = after.update(evaluateAt(120_000, slow(100, '/a')), 120_000);
    expect(healthy.resolved.map((r) => r.target.value)).toEqual(['GET /a']);
    expect(after.update(evaluateAt(899_999), 899_999).resolved).toEqual([]);
    const unseen = after.update(evaluateAt(900_000), 900_000);
    expect(unseen.resolved.map((r) => [r.target.value, r.resolvedAtMs])).toEqual([['GET /b', 900_000]]);
  });

  it('resolves at once what a file saved long ago holds active, and drops what it holds resolved past retention', () => {
    const before = new RecommendationStore({ ...options, resolvedRetentionMs: 3_600_000 });
    before.update(evaluateAt(0, slow(300, '/a'), slow(300, '/b')), 0);
    before.update(evaluateAt(1000, slow(300, '/a'), slow(100, '/b')), 1000);
    const after = new RecommendationStore(options);
    const resolved = after.restore(viaFile(before), 1000 + 3_600_000);
    expect(resolved.map((r) => [r.target.value, r.state, r.resolvedAtMs])).toEqual([
      ['GET /a', 'resolved', 1000 + 3_600_000],
    ]);
    expect(after.list().map((r) => `${r.target.value}:${r.state}`)).toEqual(['GET /a:resolved']);
  });

  it('keeps to its own maxEntries, dropping resolved entries first', () => {
    const before = new RecommendationStore(options);
    before.update(evaluateAt(0, slow(300, '/a'), slow(300, '/b'), slow(300, '/c')), 0);
    before.update(evaluateAt(1, slow(100, '/a'), slow(300, '/b'), slow(300, '/c')), 1);
    const after = new RecommendationStore({ ...options, maxEntries: 2 });
    after.restore(viaFile(before), 2);
    expect(after.list().map((r) => `${r.target.value}:${r.state}`)).toEqual([
      'GET /b:active',
      'GET /c:active',
    ]);
  });
});
