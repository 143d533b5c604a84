/**
 * The deploy tracker across a sidecar restart: its snapshot, as the state file keeps it (JSON, checked by
 * the file's schema), restored into a new tracker, must judge the next deploy as the first tracker would
 * have — the version current before the restart becomes the baseline, the same version is no new deploy.
 */
import { describe, expect, it } from 'vitest';
import { evaluateDetailed } from '../../src/advise/evaluate';
import { RecommendationStore } from '../../src/advise/store';
import type { Recommendation } from '../../src/advise/types';
import type { DeployTracker } from '../../src/deploys';
import { deploysSnapshotSchema } from '../../src/deploys/deploy-state';
import { input, thresholds } from './advise-fixtures';
import { type FakeClock, ITEMS_FP, MIN, ORDER_FP, STATEMENTS, serve, T0, tracker } from './deploys-fixtures';

/** The deploy-regression recommendations of one evaluation of the tracker's comparisons. */
function deployAdvice(t: DeployTracker, clock: FakeClock): Recommendation[] {
  const store = new RecommendationStore({
    maxEntries: 100,
    resolvedRetentionMs: 24 * 3600_000,
    unobservedResolveMs: 15 * MIN,
  });
  store.update(
    evaluateDetailed(input({ deploys: t.comparisons(clock.now) }), thresholds(), clock.now, () => undefined),
    clock.now,
  );
  return store.list({ kind: 'deploy-regression' });
}

/**
 * The tracker a restarted sidecar holds, on its own clock: a new one, given the old one's snapshot as read
 * back from the file; its aggregator knows only `statements` (none of the old version's by default).
 */
function restarted(
  t: DeployTracker,
  clock: FakeClock,
  statements: Record<string, string> = {},
): DeployTracker {
  const saved = deploysSnapshotSchema.parse(JSON.parse(JSON.stringify(t.snapshot(clock.now))));
  const fresh = tracker(clock, {}, statements);
  fresh.restore(saved);
  return fresh;
}

/** 1.4.1 serves GET /orders/:id with one item query; 1.4.2 loops over 10 items (an N+1) and is slower. */
const GOOD = { durationMs: 42, items: 1 };
const REGRESSED = { durationMs: 131, items: 10 };

describe('the deploy history across a sidecar restart', () => {
  it('compares a version deployed after the restart with the one current before it, as without a restart', () => {
    const clock = { now: T0 };
    const kept = tracker(clock);
    serve(kept, clock, '1.4.1', 180, GOOD);
    const clock2 = { now: clock.now };
    const after = restarted(kept, clock2, STATEMENTS);
    // The rollout: the sidecar is down for 20 s, then the new version serves; `kept` never restarted.
    clock.now += 20_000;
    clock2.now += 20_000;
    serve(kept, clock, '1.4.2', 40, REGRESSED);
    serve(after, clock2, '1.4.2', 40, REGRESSED);

    const expected = deployAdvice(kept, clock);
    expect(expected).toHaveLength(1);
    const advice = deployAdvice(after, clock2);
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatchObject({
      title: expected[0].title,
      severity: expected[0].severity,
      evidence: expected[0].evidence,
      action: expected[0].action,
    });
    expect(advice[0].evidence).toMatchObject({
      version: '1.4.2',
      baselineVersion: '1.4.1',
      baselineRequests: 180,
    });
    expect(after.report(clock2.now)[0]).toMatchObject({
      currentVersion: '1.4.2',
      previousVersion: '1.4.1',
      baselineVersion: '1.4.1',
    });
  });

  it('gives no deploy advice when the restarted sidecar starts empty (no state file)', () => {
    const clock = { now: T0 };
    const empty = tracker(clock);
    serve(empty, clock, '1.4.2', 40, REGRESSED);
    expect(deployAdvice(empty, clock)).toEqual([]);
    expect(empty.report(clock.now)[0].baselineVersion).toBeNull();
  });

  it('names the statements of the old version from the snapshot, which the new aggregator never saw', () => {
    const clock = { now: T0 };
    const multiLine = 'SELECT id, total\n    FROM orders\n   WHERE id = $1';
    const kept = tracker(clock, {}, { [ORDER_FP]: multiLine });
    const once = [{ fingerprint: ORDER_FP, calls: 1, totalMs: 2 }];
    serve(kept, clock, '1', 40, { durationMs: 40, fingerprints: once, queries: 1 });
    // Kept as the reports show it, on one line.
    expect(kept.snapshot(clock.now).services[0].statements).toEqual({
      [ORDER_FP]: 'SELECT id, total FROM orders WHERE id = $1',
    });
    const after = restarted(kept, clock);
    clock.now += 20_000;
    const tenTimes = [{ fingerprint: ORDER_FP, calls: 10, totalMs: 20 }];
    serve(after, clock, '2', 40, { durationMs: 40, fingerprints: tenTimes, queries: 10 });
    const [rec] = deployAdvice(after, clock);
    expect(rec.evidence.changedStatements).toEqual([
      '`SELECT id, total FROM orders WHERE id = $1` now runs 10× per request (was 1×), 20 ms per request (was 2 ms)',
    ]);
  });

  it('keeps the same version after a restart as it was: no new deploy, one history entry', () => {
    const clock = { now: T0 };
    const kept = tracker(clock);
    serve(kept, clock, '1.4.1', 40, GOOD);
    const after = restarted(kept, clock);
    clock.now += 20_000;
    serve(after, clock, '1.4.1', 10, GOOD);
    const [shop] = after.report(clock.now);
    expect(shop).toMatchObject({ currentVersion: '1.4.1', deployedAtMs: T0, previousVersion: null });
    expect(shop.versions).toEqual([
      { version: '1.4.1', firstSeenMs: T0, lastSeenMs: clock.now - 1000, requests: 50, deployedAtMs: T0 },
    ]);
    expect(after.runningVersions(clock.now, 5 * MIN)).toEqual([{ service: 'shop', version: '1.4.1' }]);
  });

  it('reads a version that served a little since the restart as it ran before, until it served minRequests', () => {
    const clock = { now: T0 };
    const kept = tracker(clock);
    serve(kept, clock, '1.4.1', 180, GOOD);
    const after = restarted(kept, clock);
    clock.now += 20_000;
    serve(after, clock, '1.4.1', 5, GOOD);
    serve(after, clock, '1.4.2', 40, REGRESSED);
    const [rec] = deployAdvice(after, clock);
    expect(rec.evidence).toMatchObject({ baselineVersion: '1.4.1', baselineRequests: 180 });
  });

  it("keeps a baseline's frozen figures and a regressed version's own across the restart", () => {
    const clock = { now: T0 };
    const kept = tracker(clock);
    serve(kept, clock, '1.4.1', 180, GOOD);
    serve(kept, clock, '1.4.2', 40, REGRESSED);
    // The baseline is frozen once 1.4.1 has been gone two windows.
    clock.now += 11 * MIN;
    serve(kept, clock, '1.4.2', 40, REGRESSED);
    const after = restarted(kept, clock);
    clock.now += 20_000;
    const [rec] = deployAdvice(after, clock);
    expect(rec.evidence).toMatchObject({
      version: '1.4.2',
      baselineVersion: '1.4.1',
      baselineRequests: 180,
      requests: 40,
      queriesPerRequest: 11,
    });
    expect(rec.evidence.changedStatements).toEqual([
      `\`${STATEMENTS[ITEMS_FP]}\` now runs 10× per request (was 1×), 20 ms per request (was 2 ms)`,
    ]);
  });

  it("lets a restored current version's figures lapse as a profile's would, two windows after it was last seen", () => {
    const clock = { now: T0 };
    const kept = tracker(clock);
    serve(kept, clock, '1', 180, GOOD);
    const after = restarted(kept, clock);
    expect(after.report(clock.now)[0].routes).toHaveLength(1);
    clock.now += 11 * MIN;
    expect(after.report(clock.now)[0].routes).toEqual([]);
    expect(kept.report(clock.now)[0].routes).toEqual([]);
  });
});
