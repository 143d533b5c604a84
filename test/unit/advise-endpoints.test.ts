import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advise/evaluate';
import {
  endpointCacheRow,
  endpointQueryRow,
  endpointRow,
  input,
  queryRow,
  thresholds,
} from './advise-fixtures';

const kinds = (o: Parameters<typeof endpointRow>[0], t = thresholds()) =>
  evaluate(input({ endpoints: [endpointRow(o)] }), t, 0).map((r) => `${r.kind}:${r.severity}`);

describe('endpoint SLO rule', () => {
  it('does not report a p95 equal to the 200 ms SLO', () => {
    expect(kinds({ p95Ms: 200 })).toEqual([]);
  });

  it('reports a p95 just over the SLO, and critical over twice the SLO', () => {
    expect(kinds({ p95Ms: 200.1 })).toEqual(['endpoint-slow:warning']);
    expect(kinds({ p95Ms: 400.1 })).toEqual(['endpoint-slow:critical']);
  });

  it('does not judge fewer than 20 requests', () => {
    expect(kinds({ p95Ms: 900, requests: 19 })).toEqual([]);
  });

  it('applies per-route SLO overrides by method and route or by route alone', () => {
    const byLabel = thresholds({
      endpoint: { ...thresholds().endpoint, routeSloMs: { 'GET /orders/:id': 500 } },
    });
    expect(kinds({ p95Ms: 300 }, byLabel)).toEqual([]);
    const byRoute = thresholds({
      endpoint: { ...thresholds().endpoint, routeSloMs: { '/orders/:id': 100 } },
    });
    expect(kinds({ p95Ms: 150 }, byRoute)).toEqual(['endpoint-slow:warning']);
  });

  it('takes an SLO per GraphQL operation, whose endpoint is named by route and operation', () => {
    const orders = { method: 'POST', route: '/graphql (query Orders)' };
    const perOperation = thresholds({
      endpoint: { ...thresholds().endpoint, routeSloMs: { 'POST /graphql (query Orders)': 1000 } },
    });
    expect(kinds({ ...orders, p95Ms: 900 }, perOperation)).toEqual([]);
    expect(kinds({ ...orders, p95Ms: 1000.1 }, perOperation)).toEqual(['endpoint-slow:warning']);
    // Another operation on the route keeps the default.
    expect(kinds({ method: 'POST', route: '/graphql (query Me)', p95Ms: 900 }, perOperation)).toEqual([
      'endpoint-slow:critical',
    ]);
  });

  it('names the statements and namespaces that take the route time, largest first', () => {
    const e = endpointRow({ p95Ms: 300, dbMsPerRequest: 150, cacheMsPerRequest: 20, otherMsPerRequest: 30 });
    const q = endpointQueryRow({ totalMs: 14_000, statement: 'SELECT * FROM items WHERE order_id = $1' });
    const c = endpointCacheRow({ route: '/orders/:id', namespace: 'order:*', totalMs: 2_000 });
    const [rec] = evaluate(
      input({ endpoints: [e], endpointQueries: [q], endpointCache: [c] }),
      thresholds(),
      0,
    );
    expect(rec.evidence.dominantParts).toEqual([
      'SQL SELECT * FROM items WHERE order_id = $1: 140 ms/request',
      'outside DB and cache (app code, other calls): 30 ms/request',
      'cache order:*: 20 ms/request',
    ]);
    expect(rec.action).toMatch(/Fix that statement first/);
  });
});

describe('endpoint SLO rule with concurrent calls', () => {
  it('bounds a statement run concurrently by the route wall time in the database', () => {
    // Ten pg_sleep(30 ms) under Promise.all: 300 ms of calls, 54 ms of database wall time, while
    // the requests queue 381 ms for a pooled connection.
    const e = endpointRow({
      p95Ms: 500,
      dbMsPerRequest: 54,
      poolWaitMsPerRequest: 381,
      cacheMsPerRequest: 0,
      otherMsPerRequest: 5,
    });
    const q = endpointQueryRow({ totalMs: 30_000, statement: 'SELECT pg_sleep($1)' });
    const [rec] = evaluate(input({ endpoints: [e], endpointQueries: [q] }), thresholds(), 0);
    expect(rec.evidence.dominantParts).toEqual([
      'waiting for a pooled connection: 381 ms/request',
      'SQL SELECT pg_sleep($1): 54 ms/request',
      'outside DB and cache (app code, other calls): 5 ms/request',
    ]);
    expect(rec.action).toMatch(/Waiting for a database connection is the bottleneck/);
  });

  it('judges an N+1 of concurrent repeats by the wall time they can cost, not their sum', () => {
    const e = endpointRow({ dbMsPerRequest: 54 });
    const q = endpointQueryRow({
      statement: 'SELECT pg_sleep($1)',
      requestsOverThreshold: 100,
      maxCallsPerRequest: 10,
      overThresholdMs: 30_000,
    });
    const n1 = evaluate(input({ endpoints: [e], endpointQueries: [q] }), thresholds(), 0).find(
      (r) => r.kind === 'n-plus-one',
    );
    // 300 ms of calls per request would pass the 200-ms SLO (critical); 54 ms of wall time does not.
    expect(n1?.severity).toBe('warning');
    expect(n1?.evidence.repeatMsPerAffectedRequest).toBe(54);
  });
});

describe('endpoint 5xx rule', () => {
  it('reports 2 server errors in 100 requests and names failing statements of the route', () => {
    const e = endpointRow({ serverErrors: 2, errors: 2 });
    const failing = queryRow({ errors: 2, statement: 'UPDATE stock SET n = n - $1 WHERE id = $2' });
    const [rec] = evaluate(input({ endpoints: [e], queries: [failing] }), thresholds(), 0);
    expect(rec).toMatchObject({
      kind: 'endpoint-errors',
      severity: 'warning',
      evidence: { serverErrorRate: 0.02 },
    });
    expect(rec.action).toContain('UPDATE stock SET n = n - $1 WHERE id = $2 (2 errors in the service)');
  });

  it('does not report 1 server error in 100 requests', () => {
    expect(kinds({ serverErrors: 1 })).toEqual([]);
  });

  it('is critical from a 10% 5xx rate', () => {
    expect(kinds({ serverErrors: 10 })).toEqual(['endpoint-errors:critical']);
  });
});

describe('endpoint rules on job and consumer runs', () => {
  const job = { method: 'JOB', route: 'send-digest' };

  it('judges a job against its `JOB <name>` SLO only, and says it takes its time per run', () => {
    // The requests' sloMs is no measure of a job: without its own SLO a 30-s run is not slow.
    expect(kinds({ ...job, p95Ms: 30_000 })).toEqual([]);
    expect(kinds({ method: 'CONSUMER', route: 'process orders', p95Ms: 30_000 })).toEqual([]);
    const slo = (ms: number) =>
      thresholds({ endpoint: { ...thresholds().endpoint, routeSloMs: { 'JOB send-digest': ms } } });
    expect(kinds({ ...job, p95Ms: 30_000 }, slo(60_000))).toEqual([]);
    const e = endpointRow({ ...job, p95Ms: 300, dbMsPerRequest: 150, otherMsPerRequest: 30 });
    const q = endpointQueryRow({
      ...job,
      totalMs: 14_000,
      statement: 'SELECT email FROM subscribers WHERE id = $1',
    });
    const [rec] = evaluate(input({ endpoints: [e], endpointQueries: [q] }), slo(200), 0);
    expect(rec.title).toBe('JOB send-digest p95 300 ms over its 200 ms SLO');
    expect(rec.action).toMatch(/^Time per run \(mean /);
    expect(rec.action).toContain('/run, ');
    expect(`${rec.action} ${JSON.stringify(rec.evidence.dominantParts)}`).not.toContain('request');
  });

  it('reports failed runs (ERROR status, no status code) at the 5xx rate threshold, worded per run', () => {
    const [rec] = evaluate(
      input({ endpoints: [endpointRow({ ...job, errors: 2, errorRate: 0.02 })] }),
      thresholds(),
      0,
    );
    expect(rec).toMatchObject({
      kind: 'endpoint-errors',
      severity: 'warning',
      title: 'JOB send-digest: 2% of runs fail',
      evidence: { runs: 100, failedRuns: 2, failureRate: 0.02 },
    });
    expect(rec.action).toMatch(/^2 of 100 runs failed\. /);
    expect(rec.action).not.toMatch(/5xx|request/);
    expect(kinds({ method: 'CONSUMER', route: 'process orders', errors: 10 })).toEqual([
      'endpoint-errors:critical',
    ]);
    // An HTTP route's errors without a 5xx (4xx marked as errors by another SDK) are still not 5xx.
    expect(kinds({ errors: 10 })).toEqual([]);
  });
});
