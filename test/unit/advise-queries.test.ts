import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advise/evaluate';
import { uncheckedFinding } from '../../src/advise/index-advisor';
import { loadParser } from '../../src/advise/predicate-columns';
import { indexCandidates } from '../../src/advise/rules/queries';
import { endpointQueryRow, input, queryRow, thresholds } from './advise-fixtures';

const kinds = (rows: Parameters<typeof queryRow>[0][]) =>
  evaluate(input({ queries: rows.map(queryRow) }), thresholds(), 0).map((r) => `${r.kind}:${r.severity}`);

describe('slow-query rule', () => {
  it('reports a p95 at the 100 ms threshold over 10 calls as a warning', () => {
    expect(kinds([{ p95Ms: 100, calls: 10 }])).toEqual(['slow-query:warning']);
  });

  it('does not report a p95 just under the threshold', () => {
    expect(kinds([{ p95Ms: 99.9, calls: 10 }])).toEqual([]);
  });

  it('does not trust a p95 over 9 calls', () => {
    expect(kinds([{ p95Ms: 400, calls: 9 }])).toEqual([]);
  });

  it('is critical from 500 ms', () => {
    expect(kinds([{ p95Ms: 499.9 }, { fingerprint: 'fp2', p95Ms: 500 }])).toEqual([
      'slow-query:critical',
      'slow-query:warning',
    ]);
  });

  it('carries the statement, percentiles and endpoints as evidence', () => {
    const [rec] = evaluate(input({ queries: [queryRow({ p95Ms: 150, p99Ms: 300 })] }), thresholds(), 0);
    expect(rec.target).toEqual({
      type: 'fingerprint',
      value: 'fp1',
      statement: 'SELECT * FROM items WHERE order_id = $1',
      table: 'items',
    });
    expect(rec.evidence).toMatchObject({
      p95Ms: 150,
      p99Ms: 300,
      calls: 100,
      topEndpoints: ['GET /orders/:id'],
    });
    expect(rec.action).toContain('EXPLAIN (ANALYZE, BUFFERS)');
    expect(rec.exampleTraceId).toBe('trace-q');
  });
});

describe('top-consumer rule', () => {
  const top = { shareOfDbTime: 0.3, totalMs: 1000, calls: 10 };

  it('reports a statement with 30% of DB time and 1 s in the window', () => {
    expect(kinds([top])).toEqual(['top-consumer:info']);
  });

  it('does not report 29.9% of DB time', () => {
    expect(kinds([{ ...top, shareOfDbTime: 0.299 }])).toEqual([]);
  });

  it('does not report a large share of a nearly idle service', () => {
    expect(kinds([{ ...top, totalMs: 999 }])).toEqual([]);
  });

  it('is not repeated for a statement already reported as slow', () => {
    expect(kinds([{ ...top, p95Ms: 120 }])).toEqual(['slow-query:warning']);
  });

  it('points at batching when the statement repeats within requests', () => {
    const [rec] = evaluate(
      input({ queries: [queryRow({ ...top, maxCallsPerRequest: 12 })] }),
      thresholds(),
      0,
    );
    expect(rec.action).toMatch(/up to 12× in one request/);
  });
});

describe('index candidates', () => {
  it('picks slow, top and PgHero-mean PostgreSQL SELECT/UPDATE/DELETE statements, most DB time first', () => {
    const rows = [
      queryRow({ fingerprint: 'slow', p95Ms: 150, totalMs: 100 }),
      queryRow({ fingerprint: 'mean', meanMs: 20, totalMs: 300, operation: 'UPDATE' }),
      queryRow({ fingerprint: 'fast', meanMs: 19.9 }),
      queryRow({ fingerprint: 'insert', p95Ms: 900, operation: 'INSERT' }),
      queryRow({ fingerprint: 'mysql', p95Ms: 900, system: 'mysql' }),
      queryRow({ fingerprint: 'few', p95Ms: 900, calls: 9 }),
    ];
    expect(
      indexCandidates(input({ queries: rows }), thresholds()).map((c) => `${c.fingerprint}:${c.reason}`),
    ).toEqual(['mean:mean', 'slow:slow']);
  });
});

describe('slow query without a database connection', () => {
  beforeAll(() => loadParser());

  it('names the filtered columns and says that no index was checked', () => {
    const q = queryRow({
      p95Ms: 150,
      statement: 'SELECT * FROM orders o WHERE o.customer_id = $1 ORDER BY o.created_at',
    });
    const finding = uncheckedFinding({
      service: q.service,
      fingerprint: q.fingerprint,
      statement: q.statement,
      reason: 'slow',
    });
    const [rec] = evaluate(input({ queries: [q], indexFindings: [finding] }), thresholds(), 0);
    expect(rec.kind).toBe('slow-query');
    expect(rec.evidence.filteredColumns).toEqual(['orders.customer_id (=)', 'orders.created_at (ORDER BY)']);
    expect(rec.evidence.indexChecked).toBe(false);
    expect(rec.action).toContain('no index was checked');
    expect(rec.action).toContain('advisor.postgresUrl');
  });
});

describe('top consumer of an N+1', () => {
  it('is left to the N+1 recommendation, which carries its share of DB time', () => {
    const q = queryRow({ shareOfDbTime: 0.5, totalMs: 5000, maxCallsPerRequest: 10 });
    const n = endpointQueryRow({ requestsOverThreshold: 20, maxCallsPerRequest: 10, overThresholdMs: 2000 });
    const recs = evaluate(input({ queries: [q], endpointQueries: [n] }), thresholds(), 0);
    expect(recs.map((r) => r.kind)).toEqual(['n-plus-one']);
    expect(recs[0].evidence.shareOfDbTime).toBe(0.5);
  });
});
