import { describe, expect, it } from 'vitest';
import { GenerationalCache } from '../../src/generational-cache';

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

  describe('as a set of recent keys (has, which does not copy forward)', () => {
    it('remembers at least the newest half of its capacity and forgets older members', () => {
      const set = new GenerationalCache<true>(4);
      for (const v of ['a', 'b', 'c', 'd', 'e', 'f']) set.set(v, true);
      expect(set.size).toBeLessThanOrEqual(4);
      expect(set.has('e') && set.has('f')).toBe(true);
      expect(set.has('a') || set.has('b')).toBe(false);
    });

    it('does not count a repeat within a generation twice', () => {
      const set = new GenerationalCache<true>(4);
      set.set('a', true);
      set.set('a', true);
      expect(set.size).toBe(1);
      set.set('b', true);
      expect(set.has('a') && set.has('b')).toBe(true);
    });

    it('stays bounded over many inserts, keeping the most recent', () => {
      const set = new GenerationalCache<true>(1000);
      for (let i = 0; i < 100_000; i++) {
        set.set(`t/${i}`, true);
        expect(set.size).toBeLessThanOrEqual(1000);
      }
      for (let i = 99_500; i < 100_000; i++) expect(set.has(`t/${i}`)).toBe(true);
      expect(set.has('t/98000')).toBe(false);
    });

    it('works at capacity 1 (remembers the last member)', () => {
      const set = new GenerationalCache<true>(1);
      set.set('a', true);
      set.set('b', true);
      expect(set.has('b')).toBe(true);
      expect(set.has('a')).toBe(false);
    });

    it('lets a member asked for age out: has does not copy it forward', () => {
      const set = new GenerationalCache<true>(4);
      set.set('old', true);
      for (let i = 0; i < 8; i++) {
        set.has('old');
        set.set(`k${i}`, true);
      }
      expect(set.has('old')).toBe(false);
    });
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new GenerationalCache(0)).toThrow(RangeError);
    expect(() => new GenerationalCache(1.5)).toThrow(RangeError);
  });
});
