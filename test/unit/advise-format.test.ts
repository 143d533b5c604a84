import { describe, expect, it } from 'vitest';
import { formatRecommendations } from '../../src/advise/format';
import type { Recommendation } from '../../src/advise/types';

const rec: Recommendation = {
  id: '0123456789abcdef',
  kind: 'n-plus-one',
  severity: 'critical',
  service: 'shop',
  target: { type: 'fingerprint', value: 'fp', route: 'GET /orders/:id' },
  title: 'N+1 in GET /orders/:id: SELECT * FROM items WHERE order_id = $1 runs up to 12× per request',
  evidence: {
    requestsAffected: 40,
    shareOfRequestsAffected: 0.4,
    topEndpoints: ['GET /a', 'GET /b'],
    p95: null,
  },
  action: 'Collect the ids first and run SELECT * FROM items WHERE order_id = ANY($1) once.',
  exampleTraceId: 'abc123',
  firstSeenMs: 0,
  lastSeenMs: 60_000,
  state: 'active',
};

describe('advise terminal output', () => {
  it('prints an aligned table then a block per recommendation', () => {
    const text = formatRecommendations(
      [
        rec,
        {
          ...rec,
          id: 'ffff0000',
          severity: 'info',
          kind: 'top-consumer',
          title: 'Top',
          state: 'resolved',
          resolvedAtMs: 120_000,
        },
      ],
      {
        nowMs: 180_000,
        width: 60,
      },
    );
    expect(text).toBe(
      [
        'ID        SEVERITY  KIND          SERVICE  FINDING                                                                                     STATE     LAST SEEN',
        '01234567  critical  n-plus-one    shop     N+1 in GET /orders/:id: SELECT * FROM items WHERE order_id = $1 runs up to 12× per request  active    2m ago',
        'ffff0000  info      top-consumer  shop     Top                                                                                         resolved  2m ago',
        '',
        '01234567 [critical] n-plus-one · shop · active, first seen 3m ago',
        '  N+1 in GET /orders/:id: SELECT * FROM items WHERE order_id = $1 runs up to 12× per request',
        '  evidence: requestsAffected=40 shareOfRequestsAffected=0.4',
        '    topEndpoints=[GET /a | GET /b] p95=-',
        '  action: Collect the ids first and run SELECT * FROM items',
        '    WHERE order_id = ANY($1) once.',
        '  example trace: abc123',
        '',
        'ffff0000 [info] top-consumer · shop · resolved 1m ago, first seen 3m ago',
        '  Top',
        '  evidence: requestsAffected=40 shareOfRequestsAffected=0.4',
        '    topEndpoints=[GET /a | GET /b] p95=-',
        '  action: Collect the ids first and run SELECT * FROM items',
        '    WHERE order_id = ANY($1) once.',
        '  example trace: abc123',
      ].join('\n'),
    );
  });

  it('prints the table alone when brief', () => {
    expect(formatRecommendations([rec], { brief: true, nowMs: 60_000 }).split('\n')).toHaveLength(2);
  });

  it('says so when there is nothing to recommend', () => {
    expect(formatRecommendations([])).toMatch(/^No recommendations/);
  });
});
