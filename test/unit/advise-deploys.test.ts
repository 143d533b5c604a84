import { describe, expect, it } from 'vitest';
import { evaluateDetailed } from '../../src/advise/evaluate';
import { RecommendationStore } from '../../src/advise/store';
import type { AdvisorThresholds, Recommendation } from '../../src/advise/types';
import type { DeployTracker } from '../../src/deploys';
import { input, thresholds } from './advise-fixtures';
import { MIN, serve, T0, tracker } from './deploys-fixtures';

/** The advisor's loop on a fake clock: evaluate the tracker's comparisons, fold into a store. */
function advisor(t: DeployTracker, clock: { now: number }, th: AdvisorThresholds = thresholds()) {
  const store = new RecommendationStore({
    maxEntries: 100,
    resolvedRetentionMs: 24 * 3600_000,
    unobservedResolveMs: 15 * MIN,
  });
  return (): Recommendation[] => {
    const evaluation = evaluateDetailed(input({ deploys: t.comparisons(clock.now) }), th, clock.now, (id) => {
      const held = store.get(id);
      return held?.state === 'active' ? held.severity : undefined;
    });
    store.update(evaluation, clock.now);
    return store.list({ kind: 'deploy-regression' });
  };
}

/** Version 1.4.1 serves GET /orders/:id in 42 ms with one item query; 1.4.2, first seen at 12:03, loops over 10 items. */
function regressedDeploy(clock = { now: T0 }) {
  const t = tracker(clock);
  serve(t, clock, '1.4.1', 180, { durationMs: 42, items: 1 });
  serve(t, clock, '1.4.2', 40, { durationMs: 131, items: 10 });
  return { t, clock };
}

describe('deploy-regression rule', () => {
  it('names the route, the version and the statement that now runs per item', () => {
    const { t, clock } = regressedDeploy();
    const [rec] = advisor(t, clock)();
    expect(rec).toMatchObject({
      kind: 'deploy-regression',
      // 3.1 times the p95: critical from twice the 1.5 ratio.
      severity: 'critical',
      service: 'shop',
      target: { type: 'route', value: 'GET /orders/:id' },
      title: 'GET /orders/:id p95 42 ms → 131 ms since version 1.4.2 (first seen 12:03 UTC)',
      state: 'active',
    });
    expect(rec.evidence).toMatchObject({
      version: '1.4.2',
      baselineVersion: '1.4.1',
      regressed: ['p95', 'queriesPerRequest'],
      baselineQueriesPerRequest: 2,
      queriesPerRequest: 11,
    });
    expect(rec.evidence.changedStatements).toEqual([
      '`SELECT sku, qty FROM order_items WHERE order_id = $1` now runs 10× per request (was 1×), 20 ms per request (was 2 ms)',
    ]);
    expect(rec.action).toMatch(
      /^Compared with 1\.4\.1 over each version's own requests of this route \(40 now\)\./,
    );
    expect(rec.action).toMatch(/per-item loop: fetch the items at once \(`= ANY\(\$1\)`/);
    expect(rec.action).toMatch(/or roll back to 1\.4\.1\.$/);
  });

  it('names a statement the previous version did not run as new', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { items: 0 });
    serve(t, clock, '2', 40, { items: 8 });
    const [rec] = advisor(t, clock)();
    expect(rec.evidence.changedStatements).toEqual([
      '`SELECT sku, qty FROM order_items WHERE order_id = $1` is new: 8× per request, 16 ms per request',
    ]);
  });

  it('names a statement that runs as often but slower by its time per call, and points at its plan', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { durationMs: 42 });
    const slowOrder = [
      { fingerprint: 'fp-order', calls: 1, totalMs: 80 },
      { fingerprint: 'fp-items', calls: 1, totalMs: 2 },
    ];
    serve(t, clock, '2', 40, { durationMs: 120, dbMs: 82, fingerprints: slowOrder });
    const [rec] = advisor(t, clock)();
    expect(rec.evidence.changedStatements).toEqual([
      '`SELECT id, total FROM orders WHERE id = $1` now takes 80 ms per call (was 1 ms), 80 ms per request (was 1 ms)',
    ]);
    expect(rec.action).toContain('points at its plan: a dropped or unused index');
  });

  it('is critical from twice the latency ratio, and info for a few more queries alone', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { durationMs: 40 });
    serve(t, clock, '2', 40, { durationMs: 121 });
    expect(advisor(t, clock)().map((r) => r.severity)).toEqual(['critical']);

    const c2 = { now: T0 };
    const t2 = tracker(c2);
    serve(t2, c2, '1', 40, { items: 1 });
    serve(t2, c2, '2', 40, { items: 4 });
    const [rec] = advisor(t2, c2)();
    expect(rec.severity).toBe('info');
    expect(rec.title).toBe(
      'GET /orders/:id queries per request 2 → 5 since version 2 (first seen 12:00 UTC)',
    );
  });

  it("reports a 5xx rate up by errorRateDelta, with the new version's failures", () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40);
    serve(t, clock, '2', 36);
    serve(t, clock, '2', 4, { status: 503 });
    const [rec] = advisor(t, clock)();
    expect(rec.title).toBe('GET /orders/:id 5xx 0% → 10% since version 2 (first seen 12:00 UTC)');
    expect(rec.evidence.errorRate).toBe(0.1);
  });

  it('judges nothing before both versions served minRequests of the route', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { durationMs: 40 });
    serve(t, clock, '2', 29, { durationMs: 400 });
    expect(advisor(t, clock)()).toEqual([]);
  });

  it('does not report a p95 up by less than minLatencyDeltaMs, however large the ratio', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { durationMs: 4 });
    serve(t, clock, '2', 40, { durationMs: 20 });
    expect(advisor(t, clock)()).toEqual([]);
  });

  it('holds within clearMargin of its line, and resolves once the figures are back', () => {
    const clock = { now: T0 };
    const t = tracker(clock, { windowSeconds: 60 });
    const run = advisor(t, clock);
    serve(t, clock, '1', 60, { durationMs: 100 });
    serve(t, clock, '2', 120, { durationMs: 160 });
    expect(run().map((r) => r.state)).toEqual(['active']);
    // The line is 150 ms: 140 ms is under it but within 10% of it.
    serve(t, clock, '2', 120, { durationMs: 140 });
    expect(run().map((r) => r.state)).toEqual(['active']);
    serve(t, clock, '2', 120, { durationMs: 100 });
    expect(run().map((r) => r.state)).toEqual(['resolved']);
  });

  it('resolves settleMinutes after the deploy, when the new figures are the normal', () => {
    const { t, clock } = regressedDeploy();
    const run = advisor(t, clock);
    expect(run().map((r) => r.state)).toEqual(['active']);
    clock.now += 57 * MIN;
    serve(t, clock, '1.4.2', 40, { durationMs: 131, items: 10 });
    expect(run().map((r) => r.state)).toEqual(['active']);
    clock.now += 2 * MIN;
    expect(run().map((r) => r.state)).toEqual(['resolved']);
    // The new normal: the next deploy is compared with 1.4.2.
    serve(t, clock, '1.4.3', 40, { durationMs: 131, items: 10 });
    expect(t.comparisons(clock.now)[0]).toMatchObject({ version: '1.4.3', baselineVersion: '1.4.2' });
  });

  it('resolves at once when the service is rolled back to the version it was compared with', () => {
    const { t, clock } = regressedDeploy();
    const run = advisor(t, clock);
    expect(run().map((r) => r.state)).toEqual(['active']);
    clock.now += 2 * MIN;
    serve(t, clock, '1.4.1', 5, { durationMs: 42, items: 1 });
    expect(t.report(clock.now)[0].currentVersion).toBe('1.4.1');
    expect(run().map((r) => r.state)).toEqual(['resolved']);
  });

  it('resolves when a hotfix is back to the last good figures, and the hotfix is compared with that version', () => {
    const { t, clock } = regressedDeploy();
    const run = advisor(t, clock);
    expect(run()).toHaveLength(1);
    serve(t, clock, '1.4.3', 40, { durationMs: 43, items: 1 });
    const [rec] = run();
    expect(rec.state).toBe('resolved');
    expect(t.comparisons(clock.now)[0]).toMatchObject({ version: '1.4.3', baselineVersion: '1.4.1' });
  });
});
