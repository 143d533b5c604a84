import { describe, expect, it } from 'vitest';
import { Aggregator, type AggregatorOptions } from '../../src/aggregate/aggregator';
import { NO_EXPIRY } from '../../src/model/attributes';
import type { CacheCall } from '../../src/model/classified';
import { cacheReport } from '../../src/reports/cache-report';
import { endpointReport } from '../../src/reports/endpoint-report';
import { poolReport } from '../../src/reports/pool-report';
import { queryReport } from '../../src/reports/query-report';
import { endpointCacheReport, endpointQueryReport } from '../../src/reports/use-report';
import { cacheCall, dbCall as db, poolConnect as pool, poolUsage } from '../fixtures/classified';
import { requestSummary as request } from '../fixtures/request-summary';

const MIN = 60_000;
const T0 = 1_700_000_040_000; // 40 s into a minute bucket

const OPTS: AggregatorOptions = {
  maxQueryRows: 100,
  maxCacheRows: 100,
  maxEndpointRows: 100,
  relativeAccuracy: 0.01,
  bucketMs: MIN,
  topEndpoints: 2,
};

function setup(opts: Partial<AggregatorOptions> = {}) {
  const clock = { t: T0 };
  const agg = new Aggregator({ ...OPTS, ...opts }, () => clock.t);
  return { agg, clock };
}

describe('Aggregator: queries', () => {
  it('counts calls, errors and time per (service, fingerprint) and names the slowest trace', () => {
    const { agg } = setup();
    agg.recordDbCall(db({ durationMs: 2, traceId: 'a' }));
    agg.recordDbCall(db({ durationMs: 8, traceId: 'slow', error: true }));
    agg.recordDbCall(db({ durationMs: 2, traceId: 'b' }));
    agg.recordDbCall(db({ service: 'web', durationMs: 1 }));
    const [row] = queryReport(agg, { window: 'all', service: 'api' }).rows;
    expect(row).toMatchObject({
      service: 'api',
      fingerprint: 'fp-users',
      statement: 'SELECT * FROM users WHERE id = $1',
      calls: 3,
      errors: 1,
      totalMs: 12,
      meanMs: 4,
      maxMs: 8,
      exampleTraceId: 'slow',
      shareOfDbTime: 1,
    });
    // Few calls, exact and interpolated: of [2, 2, 8], p50 is rank 1 (2) and p99 rank 1.98, 2 + 0.98 × 6.
    expect(row.p50Ms).toBe(2);
    expect(row.p99Ms).toBeCloseTo(7.88, 9);
    expect(agg.services()).toEqual(['api', 'web']);
  });

  it('keeps the sum of calls exact when fingerprints overflow the row cap', () => {
    const { agg } = setup({ maxQueryRows: 2 });
    for (let i = 0; i < 100; i++) agg.recordDbCall(db({ fingerprint: `fp${i % 7}`, durationMs: 1 }));
    const report = queryReport(agg, { window: 'all' });
    expect(report.rows).toHaveLength(3);
    expect(report.rows.reduce((s, r) => s + r.calls, 0)).toBe(100);
    const overflow = report.rows.find((r) => r.fingerprint === '__overflow__');
    expect(overflow).toMatchObject({ statement: '(other)', service: 'api' });
    expect(agg.queries.size).toBe(2);
  });

  it('attributes a fingerprint to its top endpoints and tracks the most calls in one request', () => {
    const { agg } = setup();
    agg.recordDbCall(db());
    const use = (calls: number) => [{ fingerprint: 'fp-users', calls, totalMs: calls }];
    agg.recordRequest(request({ route: '/a', fingerprints: use(3) }));
    agg.recordRequest(request({ route: '/b', fingerprints: use(12) }));
    agg.recordRequest(request({ route: '/c', fingerprints: use(1) }));
    agg.recordRequest(request({ route: '/a', fingerprints: use(4) }));
    const [row] = queryReport(agg, { window: 'all' }).rows;
    expect(row.topEndpoints).toEqual([
      { endpoint: 'GET /b', calls: 12 },
      { endpoint: 'GET /a', calls: 7 },
    ]);
    expect(row.maxCallsPerRequest).toBe(12);
  });

  it('computes each query’s share of its own service’s DB time', () => {
    const { agg } = setup();
    agg.recordDbCall(db({ fingerprint: 'a', durationMs: 30 }));
    agg.recordDbCall(db({ fingerprint: 'b', durationMs: 10 }));
    agg.recordDbCall(db({ service: 'web', fingerprint: 'c', durationMs: 500 }));
    const shares = queryReport(agg, { window: 'all' }).rows.map((r) => [r.fingerprint, r.shareOfDbTime]);
    expect(shares).toEqual([
      ['c', 1],
      ['a', 0.75],
      ['b', 0.25],
    ]);
  });
});

describe('Aggregator: endpoints and per-request stats', () => {
  it('averages DB, cache, pool and other time per request from summaries', () => {
    const { agg } = setup();
    agg.recordRequest(
      request({ durationMs: 100, dbMs: 40, cacheMs: 10, poolWaitMs: 10, queries: 4, cacheOps: 2 }),
    );
    // Parallel queries: DB time past the request time leaves no "other" time (clipped at 0).
    agg.recordRequest(
      request({ durationMs: 50, dbMs: 80, queries: 6, status: 503, error: true, traceId: 'r1' }),
    );
    const [row] = endpointReport(agg, { window: 'all' }).rows;
    expect(row).toMatchObject({
      method: 'GET',
      route: '/users/:id',
      requests: 2,
      errors: 1,
      errorRate: 0.5,
      serverErrors: 1,
      dbMsPerRequest: 60,
      cacheMsPerRequest: 5,
      poolWaitMsPerRequest: 5,
      otherMsPerRequest: 20,
      queriesPerRequest: 5,
      cacheOpsPerRequest: 1,
      maxMs: 100,
      exampleTraceId: 'r0',
    });
  });

  it('divides requests by the seconds the window covers for rps', () => {
    const { agg, clock } = setup();
    for (let i = 0; i < 30; i++) agg.recordRequest(request());
    clock.t = T0 + 30_000;
    for (let i = 0; i < 30; i++) agg.recordRequest(request());
    // all: since the first record, 30 s ago.
    expect(endpointReport(agg, { window: 'all' }).rows[0].rps).toBe(2);
    const report = endpointReport(agg, { window: '1m' });
    expect([report.fromMs, report.toMs]).toEqual([T0, T0 + 30_000]);
  });

  it('reports N+1 evidence per endpoint and fingerprint', () => {
    const { agg } = setup({ nPlusOneMinCalls: 5 });
    agg.recordDbCall(db());
    const fp = (calls: number, totalMs: number) => [{ fingerprint: 'fp-users', calls, totalMs }];
    agg.recordRequest(request({ traceId: 'few', fingerprints: fp(2, 4) }));
    agg.recordRequest(request({ traceId: 'many', fingerprints: fp(20, 40) }));
    agg.recordRequest(request({ traceId: 'five', fingerprints: fp(5, 10) }));
    agg.recordRequest(request({ traceId: 'none' }));
    const [row] = endpointQueryReport(agg, { window: '5m' }).rows;
    expect(row).toEqual({
      service: 'api',
      method: 'GET',
      route: '/users/:id',
      fingerprint: 'fp-users',
      statement: 'SELECT * FROM users WHERE id = $1',
      requests: 4,
      requestsWithQuery: 3,
      calls: 27,
      meanCallsPerRequest: 9,
      maxCallsPerRequest: 20,
      requestsOverThreshold: 2,
      overThresholdMs: 50,
      totalMs: 54,
      msPerRequest: 18,
      exampleTraceId: 'many',
    });
  });

  it('reports single-key reads of a namespace per endpoint', () => {
    const { agg } = setup({ nPlusOneMinCalls: 50, singleReadsMinCalls: 5 });
    agg.recordCacheCall(cacheCall());
    const ns = (ops: number, singleReads: number) => [
      { namespace: 'user:*', ops, singleReads, totalMs: ops },
    ];
    agg.recordRequest(request({ namespaces: ns(10, 8) }));
    agg.recordRequest(request({ namespaces: ns(2, 2) }));
    const [row] = endpointCacheReport(agg, { window: 'all' }).rows;
    expect(row).toMatchObject({
      namespace: 'user:*',
      requests: 2,
      requestsWithOps: 2,
      ops: 12,
      meanOpsPerRequest: 6,
      maxOpsPerRequest: 10,
      singleReadsPerRequest: 5,
      requestsOverThreshold: 1,
    });
    expect(cacheReport(agg, { window: 'all' }).rows[0].topEndpoints).toEqual([
      { endpoint: 'GET /users/:id', calls: 12 },
    ]);
  });

  it('caps per-endpoint use rows and routes the rest to an overflow row', () => {
    const { agg } = setup({ maxEndpointQueryRows: 3 });
    const fingerprints = Array.from({ length: 10 }, (_, i) => ({
      fingerprint: `f${i}`,
      calls: 1,
      totalMs: 1,
    }));
    agg.recordRequest(request({ fingerprints }));
    const rows = endpointQueryReport(agg, { window: 'all' }).rows;
    expect(rows).toHaveLength(4);
    expect(rows.reduce((s, r) => s + r.calls, 0)).toBe(10);
    expect(rows.find((r) => r.fingerprint === '__overflow__')).toMatchObject({ route: '(other)', calls: 7 });
  });
});

describe('Aggregator: cache', () => {
  it('computes hit rate, reads, writes, commands and TTL range per namespace', () => {
    const { agg } = setup();
    agg.recordCacheCall(cacheCall({ hits: 1 }));
    agg.recordCacheCall(cacheCall({ hits: 0, misses: 1 }));
    agg.recordCacheCall(cacheCall({ command: 'mget', hits: 2, misses: 2 }));
    // Another SDK's GET: read, outcome unknown.
    agg.recordCacheCall(cacheCall({ hits: 0, misses: 0 }));
    agg.recordCacheCall(cacheCall({ command: 'set', read: false, write: true, hits: 0, ttlSeconds: 30 }));
    agg.recordCacheCall(cacheCall({ command: 'expire', read: false, write: true, hits: 0, ttlSeconds: 600 }));
    agg.recordCacheCall(
      cacheCall({ namespace: 'session:*', command: 'del', read: false, hits: 0, error: true }),
    );
    const rows = cacheReport(agg, { window: 'all' }).rows;
    expect(rows[0]).toMatchObject({
      namespace: 'user:*',
      hits: 3,
      misses: 3,
      hitRate: 0.5,
      // Keys read, as hits and misses count them: 1 + 1 + 4 (the MGET) + 1 (outcome unknown).
      reads: 7,
      writes: 2,
      calls: 6,
      commands: { expire: 1, get: 3, mget: 1, set: 1 },
      minTtlSeconds: 30,
      maxTtlSeconds: 600,
    });
    expect(rows[1]).toMatchObject({ namespace: 'session:*', hitRate: null, errors: 1, minTtlSeconds: null });
  });

  it('counts writes that leave their key without an expiry apart from writes that set one, per window', () => {
    const { agg, clock } = setup();
    const write = (command: string, ttlSeconds?: number, more: Partial<CacheCall> = {}) =>
      agg.recordCacheCall(
        cacheCall({
          namespace: 'session:*',
          command,
          read: false,
          write: true,
          hits: 0,
          ttlSeconds,
          ...more,
        }),
      );
    write('set', NO_EXPIRY); // SET k v: marked by the preload
    write('mset', NO_EXPIRY);
    write('hset'); // structure write: sets no TTL itself
    write('sadd');
    write('set', 60); // SET k v EX 60
    write('expire'); // another SDK's EXPIRE: no TTL attribute, the command says it
    write('set'); // another SDK's SET: cannot tell
    write('hset', undefined, { error: true }); // failed: wrote nothing
    write('del');
    clock.t += 10 * MIN;
    write('set', NO_EXPIRY);
    write('set', NO_EXPIRY);
    const all = cacheReport(agg, { window: 'all' }).rows[0];
    expect(all).toMatchObject({ noExpiryWrites: 4, untimedWrites: 2, expirySets: 2, minTtlSeconds: 60 });
    const recent = cacheReport(agg, { window: '1m' }).rows[0];
    expect(recent).toMatchObject({ noExpiryWrites: 2, untimedWrites: 0, expirySets: 0 });
    // 2 writes over the window (the current minute bucket and the one before it).
    const range = agg.windowRange('1m', clock.t);
    expect(recent.noExpiryWritesPerMin).toBeCloseTo(2 / Math.max(1, (range.toMs - range.fromMs) / MIN), 3);
  });

  it('counts the keys an MGET read in another namespace in that namespace’s row, the call in its first', () => {
    const { agg } = setup();
    agg.recordCacheCall(
      cacheCall({
        command: 'mget',
        hits: 1,
        misses: 1,
        otherNamespaceReads: [{ namespace: 'product:*', hits: 2, misses: 1 }],
      }),
    );
    agg.recordCacheCall(cacheCall({ namespace: 'product:*', hits: 1 }));
    const rows = cacheReport(agg, { window: 'all', sort: 'reads' }).rows;
    expect(rows.map((r) => [r.namespace, r.calls, r.reads, r.hits, r.misses, r.commands])).toEqual([
      ['product:*', 1, 4, 3, 1, { get: 1 }],
      ['user:*', 1, 2, 1, 1, { mget: 1 }],
    ]);
  });

  it('shows a namespace only ever read as a later key of an MGET: its reads, hits and misses, no calls', () => {
    const { agg } = setup();
    agg.recordCacheCall(
      cacheCall({
        command: 'mget',
        hits: 0,
        misses: 1,
        otherNamespaceReads: [{ namespace: 'item:*:old', hits: 0, misses: 1 }],
      }),
    );
    const rows = cacheReport(agg, { window: 'all', sort: 'reads' }).rows;
    expect(rows.map((r) => [r.namespace, r.calls, r.reads, r.hits, r.misses, r.hitRate, r.commands])).toEqual(
      [
        ['item:*:old', 0, 1, 0, 1, 0, {}],
        ['user:*', 1, 1, 0, 1, 0, { mget: 1 }],
      ],
    );
    expect(JSON.stringify(rows)).not.toContain('null,"p99Ms"');
  });

  it('folds a widened namespace into the new one, renaming when the new one has no row', () => {
    const { agg } = setup();
    agg.recordCacheCall(cacheCall({ namespace: 'user:42' }));
    agg.recordCacheCall(cacheCall({ namespace: 'user:42' }));
    agg.recordCacheCall(cacheCall({ namespace: 'user:43', hits: 0, misses: 1 }));
    agg.recordRequest(
      request({ namespaces: [{ namespace: 'user:42', ops: 2, singleReads: 2, totalMs: 1 }] }),
    );
    agg.recordRequest(
      request({ namespaces: [{ namespace: 'user:43', ops: 1, singleReads: 1, totalMs: 1 }] }),
    );
    agg.mergeNamespace('api', 'user:42', 'user:*');
    agg.mergeNamespace('api', 'user:43', 'user:*');
    const rows = cacheReport(agg, { window: 'all' }).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ namespace: 'user:*', reads: 3, hits: 2, misses: 1 });
    expect(rows[0].topEndpoints).toEqual([{ endpoint: 'GET /users/:id', calls: 3 }]);
    const uses = endpointCacheReport(agg, { window: '1m' }).rows;
    expect(uses.map((u) => [u.namespace, u.ops, u.requestsWithOps])).toEqual([['user:*', 3, 2]]);
  });

  it('leaves other services alone when merging a namespace', () => {
    const { agg } = setup();
    agg.recordCacheCall(cacheCall({ service: 'web', namespace: 'user:42' }));
    agg.mergeNamespace('api', 'user:42', 'user:*');
    expect(cacheReport(agg, { window: 'all' }).rows[0].namespace).toBe('user:42');
  });
});

describe('Aggregator: pools', () => {
  it('reports waits, the largest in-use count and saturation per service', () => {
    const { agg } = setup();
    agg.recordPoolConnect(pool({ durationMs: 1, poolInUse: 3, poolMax: 10 }));
    agg.recordPoolConnect(pool({ durationMs: 30, poolInUse: 10, poolMax: 10, traceId: 'waited' }));
    agg.recordPoolConnect(pool({ durationMs: 2 }));
    agg.recordPoolConnect(pool({ service: 'web', durationMs: 1 }));
    const rows = poolReport(agg, { window: 'all' }).rows;
    expect(rows[0]).toMatchObject({
      service: 'api',
      connects: 3,
      totalWaitMs: 33,
      meanWaitMs: 11,
      maxWaitMs: 30,
      maxInUse: 10,
      poolMax: 10,
      maxInUseRatio: 1,
      saturatedConnects: 1,
      exampleTraceId: 'waited',
    });
    expect(rows[1]).toMatchObject({ service: 'web', maxInUse: null, poolMax: null, maxInUseRatio: null });
    // No usage sample said how many waited.
    expect(rows.map((r) => r.maxWaiting)).toEqual([null, null]);
  });

  it('keeps the most checkouts waiting at once that a usage sample told, across the window', () => {
    const { agg, clock } = setup();
    agg.recordPoolUsage(poolUsage({ poolInUse: 2, poolMax: 2, poolWaiting: 17 }));
    clock.t = T0 + 2 * MIN;
    agg.recordPoolUsage(poolUsage({ poolInUse: 2, poolMax: 2, poolWaiting: 3 }));
    expect(poolReport(agg, { window: 'all' }).rows.map((r) => r.maxWaiting)).toEqual([17]);
    expect(poolReport(agg, { window: '1m' }).rows.map((r) => r.maxWaiting)).toEqual([3]);
  });

  it('takes the peak in use from usage samples without counting them as checkouts', () => {
    const { agg, clock } = setup();
    const sample = (poolInUse: number) => poolUsage({ poolInUse, poolMax: 10 });
    // A pool whose checkouts never waited: no connect span, only samples.
    agg.recordPoolUsage(sample(6));
    agg.recordPoolUsage(sample(9));
    let rows = poolReport(agg, { window: 'all' }).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      service: 'api',
      connects: 0,
      totalWaitMs: 0,
      maxInUse: 9,
      poolMax: 10,
      maxInUseRatio: 0.9,
      saturatedConnects: 0,
    });
    // A full sample is no saturated checkout: only a checkout that found every client taken is.
    agg.recordPoolUsage(sample(10));
    agg.recordPoolConnect(pool({ durationMs: 4, poolInUse: 7, poolMax: 10 }));
    rows = poolReport(agg, { window: 'all' }).rows;
    expect(rows[0]).toMatchObject({ connects: 1, maxInUse: 10, saturatedConnects: 0 });
    // Samples age out of the window like checkouts.
    clock.t = T0 + 3 * MIN;
    expect(poolReport(agg, { window: '1m' }).rows).toEqual([]);
  });
});

describe('Aggregator: a service with several pools', () => {
  const primary = 'db-1:5432/shop';
  const replica = 'db-2:5432/shop';

  it('keeps a row per pool, each with its own waits, peak in use and size', () => {
    const { agg } = setup();
    agg.recordPoolConnect(pool({ pool: primary, durationMs: 40, poolInUse: 20, poolMax: 20 }));
    agg.recordPoolUsage(poolUsage({ pool: primary, poolInUse: 20, poolMax: 20 }));
    agg.recordPoolUsage(poolUsage({ pool: replica, poolInUse: 2, poolMax: 4 }));
    agg.recordPoolConnect(pool({ pool: replica, durationMs: 1, poolInUse: 1, poolMax: 4 }));
    const rows = poolReport(agg, { window: 'all', sort: 'poolMax' }).rows;
    expect(rows).toMatchObject([
      {
        service: 'api',
        pool: primary,
        connects: 1,
        maxWaitMs: 40,
        maxInUse: 20,
        poolMax: 20,
        saturatedConnects: 1,
      },
      {
        service: 'api',
        pool: replica,
        connects: 1,
        maxWaitMs: 1,
        maxInUse: 2,
        poolMax: 4,
        saturatedConnects: 0,
      },
    ]);
    expect(rows[1].maxInUseRatio).toBe(0.5);
  });

  it('keeps spans that name no pool (older preloads, other SDKs) in one row of their own', () => {
    const { agg } = setup();
    agg.recordPoolConnect(pool({ durationMs: 5 }));
    agg.recordPoolConnect(pool({ durationMs: 7 }));
    agg.recordPoolConnect(pool({ pool: primary, durationMs: 1, poolMax: 10 }));
    const rows = poolReport(agg, { window: 'all' }).rows;
    expect(rows.map((r) => [r.pool, r.connects, r.poolMax])).toEqual([
      ['', 2, null],
      [primary, 1, 10],
    ]);
  });

  it("sends pools past the row cap to the service's overflow row", () => {
    const { agg } = setup({ maxEndpointRows: 3 });
    for (let i = 0; i < 10; i++) agg.recordPoolConnect(pool({ pool: `db-${i}:5432/shop`, durationMs: 1 }));
    expect(agg.pools.size).toBe(3);
    const rows = poolReport(agg, { window: 'all', sort: 'connects' }).rows;
    expect(rows[0]).toMatchObject({ service: 'api', system: '(other)', pool: '(other)', connects: 7 });
    expect(rows.reduce((sum, r) => sum + r.connects, 0)).toBe(10);
  });
});

describe('Aggregator: spans lost by the senders', () => {
  it('counts them per service, and every other service seen at 0 (for Prometheus)', () => {
    const { agg } = setup();
    agg.recordDbCall(db({ service: 'quiet' }));
    agg.recordSenderLoss('shop', { instance: 'p1', lostSpans: 12 });
    agg.recordSenderLoss('shop', { instance: 'p2', lostSpans: 3 });
    expect(agg.senderLoss.byService()).toEqual(new Map([['shop', 15]]));
    expect(agg.lostSpansByService()).toEqual(
      new Map([
        ['shop', 15],
        ['quiet', 0],
      ]),
    );
  });
});

describe('Aggregator: windows and bounds', () => {
  it('serves the last minutes from recent buckets and everything from all', () => {
    const { agg, clock } = setup();
    agg.recordDbCall(db({ durationMs: 100 }));
    clock.t = T0 + 10 * MIN;
    agg.recordDbCall(db({ durationMs: 1 }));
    clock.t = T0 + 20 * MIN;
    agg.recordDbCall(db({ durationMs: 1 }));
    const calls = (window: '1m' | '5m' | '15m' | 'all') => queryReport(agg, { window }).rows[0]?.calls ?? 0;
    expect([calls('1m'), calls('5m'), calls('15m'), calls('all')]).toEqual([1, 1, 2, 3]);
    expect(queryReport(agg, { window: 'all' }).rows[0].maxMs).toBe(100);
    expect(queryReport(agg, { window: '15m' }).rows[0].maxMs).toBe(1);
  });

  it('omits rows with no data in the window', () => {
    const { agg, clock } = setup();
    agg.recordDbCall(db());
    agg.recordCacheCall(cacheCall());
    agg.recordRequest(request());
    agg.recordPoolConnect(pool());
    clock.t = T0 + 3 * MIN;
    expect(queryReport(agg, { window: '1m' }).rows).toEqual([]);
    expect(cacheReport(agg, { window: '1m' }).rows).toEqual([]);
    expect(endpointReport(agg, { window: '1m' }).rows).toEqual([]);
    expect(poolReport(agg, { window: '1m' }).rows).toEqual([]);
    expect(queryReport(agg, { window: '5m' }).rows).toHaveLength(1);
  });

  it('stays within its row caps whatever the key cardinality', () => {
    const { agg } = setup({ maxQueryRows: 10, maxCacheRows: 10, maxEndpointRows: 10 });
    for (let i = 0; i < 5000; i++) {
      agg.recordDbCall(db({ fingerprint: `fp${i}` }));
      agg.recordCacheCall(cacheCall({ namespace: `ns${i}` }));
      agg.recordPoolConnect(pool({ service: `svc${i}` }));
      agg.recordRequest(
        request({
          route: `/r${i}`,
          fingerprints: [{ fingerprint: `fp${i}`, calls: 1, totalMs: 1 }],
          namespaces: [{ namespace: `ns${i}`, ops: 1, singleReads: 1, totalMs: 1 }],
        }),
      );
    }
    expect([agg.queries.size, agg.cache.size, agg.endpoints.size, agg.pools.size]).toEqual([10, 10, 10, 10]);
    expect([agg.queryUses.size, agg.cacheUses.size]).toEqual([20, 20]);
    expect([...agg.pools.rows()]).toHaveLength(10 + 64 + 1);
    expect(endpointReport(agg, { window: 'all' }).rows.reduce((s, r) => s + r.requests, 0)).toBe(5000);
  });
});
