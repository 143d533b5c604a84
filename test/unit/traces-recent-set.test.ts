import { describe, expect, it } from 'vitest';
import { RecentSet } from '../../src/traces/recent-set';

describe('RecentSet', () => {
  it('remembers at least the newest half of its capacity and forgets older members', () => {
    const set = new RecentSet(4);
    for (const v of ['a', 'b', 'c', 'd', 'e', 'f']) set.add(v);
    expect(set.size).toBeLessThanOrEqual(4);
    expect(set.has('e') && set.has('f')).toBe(true);
    expect(set.has('a') || set.has('b')).toBe(false);
  });

  it('does not count a repeat within a generation twice', () => {
    const set = new RecentSet(4);
    set.add('a');
    set.add('a');
    expect(set.size).toBe(1);
    set.add('b');
    expect(set.has('a') && set.has('b')).toBe(true);
  });

  it('stays bounded over many inserts, keeping the most recent', () => {
    const set = new RecentSet(1000);
    for (let i = 0; i < 100_000; i++) {
      set.add(`t/${i}`);
      expect(set.size).toBeLessThanOrEqual(1000);
    }
    for (let i = 99_500; i < 100_000; i++) expect(set.has(`t/${i}`)).toBe(true);
    expect(set.has('t/98000')).toBe(false);
  });

  it('works at capacity 1 (remembers the last member)', () => {
    const set = new RecentSet(1);
    set.add('a');
    set.add('b');
    expect(set.has('b')).toBe(true);
    expect(set.has('a')).toBe(false);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RecentSet(0)).toThrow(RangeError);
  });
});
