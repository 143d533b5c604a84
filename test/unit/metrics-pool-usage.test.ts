import { describe, expect, it } from 'vitest';
import { BoundedSeries, METRICS, PoolUsage } from '../../src/metrics';

describe('pool usage peak', () => {
  it('shows the most clients in use over the current and the previous 15 s bucket', () => {
    let now = 0;
    const pools = new PoolUsage(() => now);
    const attrs = { service: 'shop', system: 'postgresql' };
    pools.record(attrs, 9, 10);
    now = 16_000;
    pools.record(attrs, 3, 10);
    expect(pools.snapshot()).toEqual([{ attributes: attrs, inUsePeak: 9, max: 10, waitingPeak: -1 }]);
    now = 31_000;
    expect(pools.snapshot()[0].inUsePeak).toBe(3);
    now = 100_000;
    expect(pools.snapshot()[0].inUsePeak).toBe(0);
  });

  it('shows the most checkouts waiting at once the same way, 0 once told and quiet, -1 (not exported) when never told', () => {
    let now = 0;
    const pools = new PoolUsage(() => now);
    const told = { service: 'shop', pool: 'a' };
    const untold = { service: 'shop', pool: 'b' };
    pools.record(told, 2, 2, 7);
    pools.record(untold, 1, 4);
    now = 16_000;
    pools.record(told, 2, 2, 3);
    const waiting = () => pools.snapshot().map((p) => [p.attributes.pool, p.waitingPeak]);
    expect(waiting()).toEqual([
      ['a', 7],
      ['b', -1],
    ]);
    now = 31_000;
    expect(waiting()).toEqual([
      ['a', 3],
      ['b', -1],
    ]);
    now = 100_000;
    expect(waiting()).toEqual([
      ['a', 0],
      ['b', -1],
    ]);
  });

  it('ignores connects that carry neither usage nor pool size', () => {
    const pools = new PoolUsage(() => 0);
    pools.record({ service: 'shop' }, undefined, undefined);
    expect(pools.snapshot()).toEqual([]);
  });
});

describe('bounded series', () => {
  it('never keeps more label sets than the cap, however many arrive', () => {
    const store = new BoundedSeries(METRICS.dbNPlusOne, 10, (attributes) => ({ attributes, n: 0 }));
    for (let i = 0; i < 10_000; i++) store.get(['shop', 'GET', `/r${i}`, 'fp']).n++;
    expect(store.size).toBe(10);
    expect([...store.all()]).toHaveLength(11);
    expect(store.overflowed).toBe(9_990);
  });

  it('returns the same series object for the same labels', () => {
    const store = new BoundedSeries(METRICS.dbNPlusOne, 10, (attributes) => ({ attributes }));
    expect(store.get(['a', 'GET', '/x', 'f'])).toBe(store.get(['a', 'GET', '/x', 'f']));
    expect(store.get(['a', 'GET', '/x', 'f'])).not.toBe(store.get(['a', 'GET', '/x', 'g']));
  });
});
