import { describe, expect, it } from 'vitest';
import { evaluate, evaluateDetailed } from '../../src/advise/evaluate';
import { recommendationId } from '../../src/advise/ids';
import { batchedStatement } from '../../src/advise/rules/n-plus-one';
import { endpointQueryRow, input, SERVICE, thresholds } from './advise-fixtures';

/** A route where 3 of 100 requests ran the statement 5× for 50 ms: exactly at every default threshold. */
const atThreshold = {
  requestsOverThreshold: 3,
  maxCallsPerRequest: 5,
  overThresholdMs: 150,
  meanCallsPerRequest: 1.12,
};

function nPlusOne(o: Parameters<typeof endpointQueryRow>[0]) {
  return evaluate(input({ endpointQueries: [endpointQueryRow(o)] }), thresholds(), 1000).filter(
    (r) => r.kind === 'n-plus-one',
  );
}

describe('N+1 rule', () => {
  it('reports a statement repeated 5 times for 50 ms in 3 requests, with the route, statement and example trace', () => {
    const [rec] = nPlusOne(atThreshold);
    expect(rec).toMatchObject({
      kind: 'n-plus-one',
      severity: 'warning',
      service: SERVICE,
      target: { type: 'fingerprint', value: 'fp1', route: 'GET /orders/:id' },
      exampleTraceId: 'trace-n',
      evidence: {
        routeRequests: 100,
        requestsAffected: 3,
        shareOfRequestsAffected: 0.03,
        maxCallsPerRequest: 5,
        repeatMsPerAffectedRequest: 50,
      },
    });
    expect(rec.action).toContain('SELECT * FROM items WHERE order_id = ANY($1)');
    expect(rec.action).toMatch(/JOIN/);
    expect(rec.action).toMatch(/loader/);
  });

  it('does not report fewer affected requests than minAffectedRequests', () => {
    expect(nPlusOne({ ...atThreshold, requestsOverThreshold: 2, overThresholdMs: 100 })).toEqual([]);
  });

  it('does not report 4 repeats', () => {
    expect(nPlusOne({ ...atThreshold, maxCallsPerRequest: 4 })).toEqual([]);
  });

  it('reports repeats that take under 50 ms together as info only', () => {
    expect(nPlusOne({ ...atThreshold, overThresholdMs: 149.9 }).map((r) => r.severity)).toEqual(['info']);
  });

  it('is critical when the repeats alone take the route SLO', () => {
    const [rec] = nPlusOne({ ...atThreshold, overThresholdMs: 600 });
    expect(rec.severity).toBe('critical');
  });

  it('follows configured thresholds', () => {
    const t = thresholds({ nPlusOne: { minRepeats: 10, minTotalMs: 10, minAffectedRequests: 1 } });
    const row = endpointQueryRow({ requestsOverThreshold: 1, maxCallsPerRequest: 9, overThresholdMs: 20 });
    expect(evaluate(input({ endpointQueries: [row] }), t, 0)).toEqual([]);
    const row10 = { ...row, maxCallsPerRequest: 10 };
    expect(evaluate(input({ endpointQueries: [row10] }), t, 0).map((r) => r.severity)).toEqual(['warning']);
    expect(
      evaluate(input({ endpointQueries: [{ ...row10, overThresholdMs: 9.9 }] }), t, 0).map((r) => r.severity),
    ).toEqual(['info']);
  });

  it('marks a healthy route × statement as observed so an earlier finding there resolves', () => {
    const { recommendations, observed } = evaluateDetailed(
      input({ endpointQueries: [endpointQueryRow()] }),
      thresholds(),
      0,
    );
    expect(recommendations).toEqual([]);
    const id = recommendationId('n-plus-one', SERVICE, {
      type: 'fingerprint',
      value: 'fp1',
      route: 'GET /orders/:id',
    });
    expect(observed.has(id)).toBe(true);
  });

  it('ignores the overflow row', () => {
    expect(nPlusOne({ ...atThreshold, route: '(other)', method: '(other)' })).toEqual([]);
  });
});

describe('batchedStatement', () => {
  it('turns the one `= $n` into `= ANY($n)`', () => {
    expect(batchedStatement('SELECT id, name FROM "Users" u WHERE u."id" = $1')).toBe(
      'SELECT id, name FROM "Users" u WHERE u."id" = ANY($1)',
    );
  });

  it('leaves statements with several parameters alone', () => {
    expect(batchedStatement('SELECT * FROM t WHERE a = $1 AND b = $2')).toBeUndefined();
  });
});
