import { describe, expect, it } from 'vitest';
import { GenerationalCache } from '../../src/sql/generational-cache';

describe('GenerationalCache', () => {
  it('never holds more than its capacity', () => {
    for (const capacity of [1, 2, 5, 64]) {
      const cache = new GenerationalCache<number>(capacity);
      for (let i = 0; i < 1000; i++) {
        cache.set(`k${i}`, i);
        expect(cache.size).toBeLessThanOrEqual(capacity);
      }
    }
  });

  it('keeps an entry that is read between inserts and drops ones that are not', () => {
    const cache = new GenerationalCache<number>(6);
    cache.set('hot', 0);
    for (let i = 0; i < 100; i++) {
      cache.set(`cold${i}`, i);
      expect(cache.get('hot')).toBe(0);
    }
    expect(cache.get('cold0')).toBeUndefined();
    expect(cache.get('cold99')).toBe(99);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new GenerationalCache(0)).toThrow(RangeError);
    expect(() => new GenerationalCache(1.5)).toThrow(RangeError);
  });
});
