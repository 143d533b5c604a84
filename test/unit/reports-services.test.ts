import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/aggregate/aggregator';
import { DEFAULTS } from '../../src/config/defaults';
import { CONSUMER_METHOD, JOB_METHOD } from '../../src/model/classified';
import { endpointReport } from '../../src/reports/endpoint-report';
import { serviceReport } from '../../src/reports/service-report';
import { requestSummary } from '../fixtures/request-summary';

const T0 = 1_700_000_040_000;

/** The sidecar's default tables and accuracy, read at T0. */
function aggregator(): Aggregator {
  return new Aggregator(DEFAULTS.aggregation, () => T0);
}

describe('service report', () => {
  it("sums a service's routes: counts, errors, and its time split into database, cache, pool wait and the rest", () => {
    const agg = aggregator();
    // /users/:id: 3 × 10 ms, of which 6 ms DB (2 queries), 2 ms cache (1 op).
    for (let i = 0; i < 3; i++)
      agg.recordRequest(
        requestSummary({ traceId: `u${i}`, durationMs: 10, dbMs: 6, cacheMs: 2, queries: 2, cacheOps: 1 }),
      );
    // /orders: 1 × 30 ms, 5xx, 10 ms waiting for the pool, 20 ms DB (4 queries).
    agg.recordRequest(
      requestSummary({
        traceId: 'o',
        route: '/orders',
        method: 'POST',
        status: 503,
        error: true,
        durationMs: 30,
        dbMs: 20,
        poolWaitMs: 10,
        queries: 4,
      }),
    );
    const [row, ...rest] = serviceReport(agg, { window: 'all' }, T0).rows;
    expect(rest).toEqual([]);
    // 60 ms in all: DB 18 + 20, cache 6, pool 10, other 3 × 2.
    expect(row).toMatchObject({
      service: 'api',
      kind: 'requests',
      routes: 2,
      requests: 4,
      errors: 1,
      errorRate: 0.25,
      serverErrors: 1,
      dbShare: 0.6333,
      cacheShare: 0.1,
      poolWaitShare: 0.1667,
      otherShare: 0.1,
      dbMsPerRequest: 9.5,
      cacheMsPerRequest: 1.5,
      queriesPerRequest: 2.5,
      cacheOpsPerRequest: 0.75,
      maxMs: 30,
      exampleTraceId: 'o',
    });
    expect(row.dbShare + row.cacheShare + row.poolWaitShare + row.otherShare).toBeCloseTo(1, 3);
  });

  it("takes its percentiles from the routes' sketches merged, not from their percentiles", () => {
    const agg = aggregator();
    // 90 fast requests on one route and 10 slow ones on another: the service's p95 is a slow one's,
    // which neither route's own p95 (10 and 500 ms) averaged or maxed would give for its p50.
    for (let i = 0; i < 90; i++) agg.recordRequest(requestSummary({ traceId: `f${i}`, durationMs: 10 }));
    for (let i = 0; i < 10; i++)
      agg.recordRequest(requestSummary({ traceId: `s${i}`, route: '/slow', durationMs: 500 }));
    const [row] = serviceReport(agg, { window: 'all' }, T0).rows;
    const fast = endpointReport(agg, { window: 'all' }, T0).rows.find((r) => r.route === '/users/:id');
    expect(fast?.p95Ms).toBeCloseTo(10, 0);
    expect(row.p50Ms).toBeCloseTo(10, 0);
    expect(row.p95Ms).toBeCloseTo(500, -1);
    expect(row.requests).toBe(100);
  });

  it("keeps a service's job and consumer runs in a row of their own, apart from its requests", () => {
    const agg = aggregator();
    agg.recordRequest(requestSummary({ traceId: 'r', durationMs: 10 }));
    agg.recordRequest(
      requestSummary({ traceId: 'j', method: JOB_METHOD, route: 'send-digest', durationMs: 900 }),
    );
    agg.recordRequest(
      requestSummary({ traceId: 'c', method: CONSUMER_METHOD, route: 'orders process', durationMs: 100 }),
    );
    agg.recordRequest(requestSummary({ service: 'web', traceId: 'w', durationMs: 5 }));
    const rows = serviceReport(agg, { window: 'all' }, T0).rows;
    expect(rows.map((r) => [r.service, r.kind, r.routes, r.requests, r.maxMs])).toEqual([
      ['api', 'jobs', 2, 2, 900],
      ['api', 'requests', 1, 1, 10],
      ['web', 'requests', 1, 1, 5],
    ]);
    expect(serviceReport(agg, { window: 'all', service: 'web' }, T0).rows.map((r) => r.service)).toEqual([
      'web',
    ]);
    expect(serviceReport(agg, { window: 'all', sort: 'p95Ms' }, T0).rows[0].kind).toBe('jobs');
  });
});
