import { describe, expect, it } from 'vitest';
import { SeriesMemo } from '../../src/metrics/series-memo';

describe('SeriesMemo', () => {
  it('remembers label sets per key up to its bounds, and nothing past them', () => {
    const memo = new SeriesMemo<number>(2);
    for (let i = 0; i < 20; i++) memo.remember('a', i);
    memo.remember('b', 100);
    memo.remember('c', 200);
    expect(memo.seen('a')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(memo.seen('b')).toEqual([100]);
    expect(memo.seen('c')).toEqual([]);
  });
});
