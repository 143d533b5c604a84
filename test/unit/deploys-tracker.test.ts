import { describe, expect, it } from 'vitest';
import { deploysResponse } from '../../src/deploys';
import { MAX_VERSIONS_PER_SERVICE } from '../../src/deploys/deploy-tracker';
import { MAX_PROFILED_ROUTES, MAX_STATEMENTS_SHOWN, VersionProfile } from '../../src/deploys/version-profile';
import { ITEMS_FP, MIN, orderRequest, STATEMENTS, serve, T0, tracker } from './deploys-fixtures';

describe('the version history of a service', () => {
  it('records each version with its first and last sighting, its requests and when it was deployed', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1.4.1', 40);
    const deployed = clock.now;
    serve(t, clock, '1.4.2', 10);
    const [shop] = t.report(clock.now);
    expect(shop.currentVersion).toBe('1.4.2');
    expect(shop.deployedAtMs).toBe(deployed);
    expect(shop.previousVersion).toBe('1.4.1');
    expect(shop.versions).toEqual([
      {
        version: '1.4.2',
        firstSeenMs: deployed,
        lastSeenMs: deployed + 9_000,
        requests: 10,
        deployedAtMs: deployed,
      },
      { version: '1.4.1', firstSeenMs: T0, lastSeenMs: T0 + 39_000, requests: 40, deployedAtMs: T0 },
    ]);
  });

  it('keeps the new version current while the old one is still seen in a rolling deploy', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 5);
    for (let i = 0; i < 30; i++) {
      serve(t, clock, '2', 1);
      serve(t, clock, '1', 1);
    }
    expect(t.report(clock.now)[0].currentVersion).toBe('2');
  });

  it('makes a known version current again when it comes back after the current one went (a rollback)', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 5);
    serve(t, clock, '2', 5);
    clock.now += 2 * MIN;
    const back = clock.now;
    serve(t, clock, '1', 5);
    const [shop] = t.report(clock.now);
    expect(shop.currentVersion).toBe('1');
    expect(shop.deployedAtMs).toBe(back);
    expect(shop.previousVersion).toBe('2');
  });

  it(`remembers ${MAX_VERSIONS_PER_SERVICE} versions per service, the least recently seen dropped first`, () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    for (let v = 1; v <= MAX_VERSIONS_PER_SERVICE + 5; v++) serve(t, clock, `v${v}`, 1);
    const versions = t.report(clock.now)[0].versions.map((v) => v.version);
    expect(versions).toHaveLength(MAX_VERSIONS_PER_SERVICE);
    expect(versions[0]).toBe(`v${MAX_VERSIONS_PER_SERVICE + 5}`);
    expect(versions).not.toContain('v1');
  });

  it('lists the versions running lately, two during a rolling deploy', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 1);
    serve(t, clock, '2', 1);
    expect(t.runningVersions(clock.now, 5 * MIN)).toEqual([
      { service: 'shop', version: '1' },
      { service: 'shop', version: '2' },
    ]);
    clock.now += 6 * MIN;
    serve(t, clock, '2', 1);
    expect(t.runningVersions(clock.now, 5 * MIN)).toEqual([{ service: 'shop', version: '2' }]);
  });

  it('answers the API per service, and refuses parameters it does not know', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 1);
    expect(deploysResponse(t, new URLSearchParams('service=shop'), clock.now).services).toHaveLength(1);
    expect(deploysResponse(t, new URLSearchParams('service=billing'), clock.now).services).toEqual([]);
    expect(() => deploysResponse(t, new URLSearchParams('window=5m'), clock.now)).toThrow(
      "unknown parameter 'window'; expected service",
    );
  });

  it('tracks nothing for requests whose resource names no version', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    t.recordRequest(orderRequest('x', { version: undefined }));
    expect(t.report(clock.now)).toEqual([]);
  });
});

describe('a version profile', () => {
  it(`keeps ${MAX_PROFILED_ROUTES} routes and lists ${MAX_STATEMENTS_SHOWN} statements per route: under 1 KB a route`, () => {
    const profile = new VersionProfile(300_000, 0.01);
    for (let r = 0; r < MAX_PROFILED_ROUTES + 10; r++) {
      const fingerprints = Array.from({ length: 40 }, (_, i) => ({
        fingerprint: (r * 100 + i).toString(16).padStart(16, '0'),
        calls: 1 + i,
        totalMs: 1.234 * (i + 1),
      }));
      for (let n = 0; n < 100; n++)
        profile.add(
          orderRequest('1', { route: `/things${r}/:id`, durationMs: 10 + (n % 50), fingerprints }),
          T0,
        );
    }
    const figures = profile.figures(T0);
    expect(figures).toHaveLength(MAX_PROFILED_ROUTES);
    for (const f of figures) expect(f.statements).toHaveLength(MAX_STATEMENTS_SHOWN);
    expect(JSON.stringify(figures).length / figures.length).toBeLessThan(1024);
  });
});

describe('the figures a deploy is compared on', () => {
  it("compares the new version's own requests with the previous version's, per route", () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1.4.1', 40, { durationMs: 42, items: 1 });
    serve(t, clock, '1.4.2', 40, { durationMs: 131, items: 10 });
    const [c] = t.comparisons(clock.now);
    expect(c).toMatchObject({ service: 'shop', version: '1.4.2', baselineVersion: '1.4.1', settled: false });
    expect(c.baseline[0]).toMatchObject({ requests: 40, p95Ms: 42, queriesPerRequest: 2 });
    expect(c.current[0]).toMatchObject({ requests: 40, p95Ms: 131, queriesPerRequest: 11 });
    expect(c.current[0].statements[0]).toEqual({
      fingerprint: ITEMS_FP,
      callsPerRequest: 10,
      msPerRequest: 20,
    });
    expect(c.statements[ITEMS_FP]).toBe(STATEMENTS[ITEMS_FP]);
  });

  it('takes the old version for the baseline even when it had served little when the new one appeared', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 3, { durationMs: 40 });
    for (let i = 0; i < 40; i++) {
      serve(t, clock, '2', 1, { durationMs: 200 });
      serve(t, clock, '1', 1, { durationMs: 40 });
    }
    const [c] = t.comparisons(clock.now);
    expect(c).toMatchObject({ version: '2', baselineVersion: '1' });
    expect(c.baseline[0]).toMatchObject({ requests: 43, p95Ms: 40 });
  });

  it('keeps a baseline that served enough over a version that served too little to compare', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { durationMs: 40 });
    serve(t, clock, '2', 5, { durationMs: 900 });
    serve(t, clock, '3', 40, { durationMs: 41 });
    expect(t.comparisons(clock.now)[0]).toMatchObject({
      version: '3',
      previousVersion: '2',
      baselineVersion: '1',
    });
  });

  it('counts each request under its own version while both run (a rolling deploy)', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { durationMs: 40 });
    for (let i = 0; i < 40; i++) {
      serve(t, clock, '2', 1, { durationMs: 200 });
      serve(t, clock, '1', 1, { durationMs: 40 });
    }
    const [c] = t.comparisons(clock.now);
    expect(c.baseline[0].p95Ms).toBe(40);
    expect(c.current[0]).toMatchObject({ requests: 40, p95Ms: 200 });
  });

  it('reads each version over its last one to two windows, so a regression fixed under load reads as fixed', () => {
    const clock = { now: T0 };
    const t = tracker(clock, { windowSeconds: 60 });
    serve(t, clock, '1', 40, { durationMs: 40 });
    serve(t, clock, '2', 120, { durationMs: 300 });
    serve(t, clock, '2', 120, { durationMs: 41 });
    const [c] = t.comparisons(clock.now);
    expect(c.current[0].p95Ms).toBe(41);
  });

  it('keeps the last good version as the baseline when the version replaced had regressed (a hotfix)', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40, { durationMs: 40 });
    serve(t, clock, '2', 40, { durationMs: 400 });
    serve(t, clock, '3', 40, { durationMs: 45 });
    const [c] = t.comparisons(clock.now);
    expect(c).toMatchObject({ version: '3', previousVersion: '2', baselineVersion: '1' });
    expect(c.baseline[0].p95Ms).toBe(40);
  });

  it("freezes the baseline's figures once its version stopped, and keeps them", () => {
    const clock = { now: T0 };
    const t = tracker(clock, { windowSeconds: 60 });
    serve(t, clock, '1', 40, { durationMs: 40 });
    serve(t, clock, '2', 30, { durationMs: 50 });
    clock.now += 30 * MIN;
    serve(t, clock, '2', 40, { durationMs: 50 });
    const [c] = t.comparisons(clock.now);
    expect(c.baseline[0]).toMatchObject({ requests: 40, p95Ms: 40 });
    expect(c.current[0]).toMatchObject({ p95Ms: 50 });
  });

  it('says a comparison has settled once the new version has run settleMinutes', () => {
    const clock = { now: T0 };
    const t = tracker(clock);
    serve(t, clock, '1', 40);
    serve(t, clock, '2', 40);
    expect(t.comparisons(clock.now)[0].settled).toBe(false);
    clock.now += 60 * MIN;
    expect(t.comparisons(clock.now)[0].settled).toBe(true);
  });
});
