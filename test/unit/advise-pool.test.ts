import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advise/evaluate';
import { endpointRow, input, poolRow, thresholds } from './advise-fixtures';

const kinds = (o: Parameters<typeof poolRow>[0], endpoints = [endpointRow()]) =>
  evaluate(input({ pools: [poolRow(o)], endpoints }), thresholds(), 0).map((r) => `${r.kind}:${r.severity}`);

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
    expect(kinds({ p95WaitMs: 5 }, [e])).toEqual(['pool-saturation:warning']);
    const under = { ...e, poolWaitMsPerRequest: 4.9, otherMsPerRequest: 35.1 };
    expect(kinds({ p95WaitMs: 5 }, [under])).toEqual([]);
  });

  it('reports a full pool as info only when connects found no free client', () => {
    expect(kinds({ maxInUse: 8, maxInUseRatio: 0.8, saturatedConnects: 3 })).toEqual([
      'pool-saturation:info',
    ]);
    expect(kinds({ maxInUse: 8, maxInUseRatio: 0.8, saturatedConnects: 0 })).toEqual([]);
  });

  it('is critical at five times the wait threshold, with pool size and waits as evidence', () => {
    const [rec] = evaluate(
      input({ pools: [poolRow({ p95WaitMs: 100, maxInUse: 10, maxInUseRatio: 1, saturatedConnects: 40 })] }),
      thresholds(),
      0,
    );
    expect(rec.severity).toBe('critical');
    expect(rec.evidence).toMatchObject({ p95WaitMs: 100, poolMax: 10, saturatedConnects: 40 });
    expect(rec.action).toContain('Up to 10 of 10 clients were in use');
  });
});
