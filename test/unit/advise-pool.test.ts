import { describe, expect, it } from 'vitest';
import { evaluate, evaluateDetailed } from '../../src/advise/evaluate';
import { recommendationId } from '../../src/advise/ids';
import { endpointRow, input, poolRow, thresholds } from './advise-fixtures';

const kinds = (o: Parameters<typeof poolRow>[0], endpoints = [endpointRow()]) =>
  evaluate(input({ pools: [poolRow({ ...sizeUnknown, ...o })], endpoints }), thresholds(), 0).map(
    (r) => `${r.kind}:${r.severity}`,
  );
/** Connect spans without the pool's size (another SDK's): every wait reads as saturation. */
/** A pool the preload named (its connect spans are the checkouts that waited). */
const NAMED = '10.0.0.5:5432/shop';
const sizeUnknown = { maxInUse: null, poolMax: null, maxInUseRatio: null, saturatedConnects: 0 };

describe('pool saturation rule', () => {
  it('reports a p95 wait at the 20 ms threshold', () => {
    expect(kinds({ p95WaitMs: 20 })).toEqual(['pool-saturation:warning']);
  });

  it('does not report a p95 wait just under it', () => {
    expect(kinds({ p95WaitMs: 19.9 })).toEqual([]);
  });

  it('does not judge fewer than 20 connects', () => {
    expect(kinds({ p95WaitMs: 200, connects: 19 })).toEqual([]);
  });

  it('reports waits that take 10% of request time even when each wait is short', () => {
    const e = endpointRow({
      poolWaitMsPerRequest: 5,
      dbMsPerRequest: 10,
      cacheMsPerRequest: 0,
      otherMsPerRequest: 35,
    });
    expect(kinds({ pool: NAMED, p95WaitMs: 5 }, [e])).toEqual(['pool-saturation:warning']);
    const under = { ...e, poolWaitMsPerRequest: 4.9, otherMsPerRequest: 35.1 };
    expect(kinds({ pool: NAMED, p95WaitMs: 5 }, [under])).toEqual([]);
  });

  it("does not read the share of request time in another SDK's connect spans, which mark every checkout, as waiting", () => {
    // OpenTelemetry JS's pg instrumentation: a span per checkout, naming no pool. Sequential 5-ms
    // requests of 9 queries each spend 11% of their time taking idle clients (p95 0.9 ms).
    const e = endpointRow({
      poolWaitMsPerRequest: 0.55,
      dbMsPerRequest: 3,
      cacheMsPerRequest: 0,
      otherMsPerRequest: 1.45,
    });
    expect(kinds({ p95WaitMs: 0.9 }, [e])).toEqual([]);
    // Its p95 still tells real waits.
    expect(kinds({ p95WaitMs: 20 }, [e])).toEqual(['pool-saturation:warning']);
  });

  it('reports a full pool as info only when connects found no free client', () => {
    const sized = { maxInUse: 8, poolMax: 10, maxInUseRatio: 0.8 };
    expect(kinds({ ...sized, saturatedConnects: 3 })).toEqual(['pool-saturation:info']);
    expect(kinds({ ...sized, saturatedConnects: 0 })).toEqual([]);
  });

  it('tells waits for new connections in a pool that never filled up from saturation', () => {
    // Sequential requests, a pool of 4, clients destroyed after failed queries: each checkout opened one.
    const setup = { maxInUse: 0, poolMax: 4, maxInUseRatio: 0, saturatedConnects: 0, p95WaitMs: 19.6 };
    const e = endpointRow({
      poolWaitMsPerRequest: 20,
      dbMsPerRequest: 5,
      cacheMsPerRequest: 0,
      otherMsPerRequest: 24,
    });
    const [rec] = evaluate(input({ pools: [poolRow(setup)], endpoints: [e] }), thresholds(), 0);
    expect(`${rec.kind}:${rec.severity}`).toBe('pool-connection-setup:critical');
    expect(rec.title).toContain('Requests wait for new database connections (pool of 4 never full)');
    expect(rec.action).toContain('A larger pool would not help');
    expect(rec.action).not.toContain('too small');
    // Without the pool's size (another SDK's connect spans) nothing tells the two apart: saturation, as before
    // (judged by the p95 wait: their share of request time is every checkout's).
    expect(kinds({ p95WaitMs: 100 }, [e])).toEqual(['pool-saturation:critical']);
  });

  it('judges a pool for both kinds, so a finding that changes kind resolves the other at once', () => {
    const saturated = poolRow({ p95WaitMs: 100, maxInUse: 10, maxInUseRatio: 1, saturatedConnects: 40 });
    const { recommendations, observed } = evaluateDetailed(input({ pools: [saturated] }), thresholds(), 0);
    expect(recommendations.map((r) => r.kind)).toEqual(['pool-saturation']);
    const target = { type: 'pool' as const, value: 'postgresql' };
    for (const kind of ['pool-saturation', 'pool-connection-setup'] as const)
      expect(observed.has(recommendationId(kind, saturated.service, target))).toBe(true);
  });

  it('is critical at five times the wait threshold, with pool size and waits as evidence', () => {
    const [rec] = evaluate(
      input({ pools: [poolRow({ p95WaitMs: 100, maxInUse: 10, maxInUseRatio: 1, saturatedConnects: 40 })] }),
      thresholds(),
      0,
    );
    expect(rec.severity).toBe('critical');
    expect(rec.evidence).toMatchObject({
      p95WaitMs: 100,
      poolMax: 10,
      saturatedConnects: 40,
      maxWaiting: null,
    });
    expect(rec.action).toContain('Up to 10 of 10 clients were in use; 40 connects found none free. ');
    // The usage samples' queue depth, when they told it.
    const queued = poolRow({
      p95WaitMs: 100,
      maxInUse: 10,
      maxInUseRatio: 1,
      saturatedConnects: 40,
      maxWaiting: 25,
    });
    const [deep] = evaluate(input({ pools: [queued] }), thresholds(), 0);
    expect(deep.evidence.maxWaiting).toBe(25);
    expect(deep.action).toContain('40 connects found none free, up to 25 waiting at once. ');
  });
});

describe('pool rule with several pools in one service', () => {
  const primary = 'db-1:5432/shop';
  const replica = 'db-2:5432/shop';
  /** The primary ran full and queued; the replica pool of the same service sat nearly idle. */
  const full = poolRow({
    pool: primary,
    p95WaitMs: 100,
    totalWaitMs: 9_000,
    maxInUse: 20,
    poolMax: 20,
    maxInUseRatio: 1,
    saturatedConnects: 40,
  });
  const calm = poolRow({
    pool: replica,
    p95WaitMs: 0.5,
    totalWaitMs: 100,
    maxInUse: 1,
    poolMax: 4,
    maxInUseRatio: 0.25,
  });

  it('advises on the full pool only, naming it, with an id of its own', () => {
    const recs = evaluate(input({ pools: [full, calm] }), thresholds(), 0);
    expect(recs).toHaveLength(1);
    const [rec] = recs;
    expect(rec.kind).toBe('pool-saturation');
    expect(rec.title).toContain(`Connection pool ${primary} saturated (pool of 20)`);
    expect(rec.target).toEqual({ type: 'pool', value: primary, system: 'postgresql', pool: primary });
    expect(rec.id).toBe(recommendationId('pool-saturation', full.service, { type: 'pool', value: primary }));
  });

  it('gives two full pools two recommendations with distinct ids that stay the same across evaluations', () => {
    const other = { ...full, pool: replica, poolMax: 4, maxInUse: 4 };
    const first = evaluate(input({ pools: [full, other] }), thresholds(), 0);
    const again = evaluate(input({ pools: [other, full] }), thresholds(), 60_000);
    expect(first.map((r) => r.target.value)).toEqual([primary, replica]);
    expect(new Set(first.map((r) => r.id)).size).toBe(2);
    expect(new Set(again.map((r) => r.id))).toEqual(new Set(first.map((r) => r.id)));
    expect(first.map((r) => r.title)).toEqual([
      expect.stringContaining(`pool ${primary} saturated (pool of 20)`),
      expect.stringContaining(`pool ${replica} saturated (pool of 4)`),
    ]);
  });

  it("splits the service's share of request time in pool waits by each pool's part of the waits", () => {
    // 20% of request time waiting for connections: over the 10% line, but 99% of it was the primary's.
    const e = endpointRow({
      poolWaitMsPerRequest: 10,
      dbMsPerRequest: 10,
      cacheMsPerRequest: 0,
      otherMsPerRequest: 30,
    });
    const quietButCounted = { ...calm, connects: 500 };
    const primaryByShare = { ...full, p95WaitMs: 5, maxInUseRatio: 0.5, saturatedConnects: 0, poolMax: null };
    const recs = evaluate(
      input({ pools: [primaryByShare, quietButCounted], endpoints: [e] }),
      thresholds(),
      0,
    );
    expect(recs.map((r) => r.target.value)).toEqual([primary]);
    expect(recs[0].evidence.shareOfRequestTime).toBeCloseTo(0.2 * 0.989, 3);
  });

  it('names a setup wait by its pool too', () => {
    const setup = poolRow({
      pool: replica,
      maxInUse: 0,
      poolMax: 4,
      maxInUseRatio: 0,
      saturatedConnects: 0,
      p95WaitMs: 25,
    });
    const [rec] = evaluate(input({ pools: [setup] }), thresholds(), 0);
    expect(rec.kind).toBe('pool-connection-setup');
    expect(rec.title).toContain(
      `Requests wait for new database connections to ${replica} (pool of 4 never full)`,
    );
  });
});
