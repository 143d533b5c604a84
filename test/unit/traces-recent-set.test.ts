import { describe, expect, it } from 'vitest';
import { RecentSet } from '../../src/traces/recent-set';

describe('RecentSet', () => {
  it('forgets the oldest member once full, keeping the newest `capacity`', () => {
    const set = new RecentSet(3);
    for (const v of ['a', 'b', 'c', 'd']) set.add(v);
    expect(set.size).toBe(3);
    expect(set.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((v) => set.has(v))).toBe(true);
  });

  it('does not re-add a member, so a repeat does not push another out', () => {
    const set = new RecentSet(2);
    set.add('a');
    set.add('b');
    set.add('b');
    expect(set.has('a')).toBe(true);
    set.add('c');
    expect(set.has('a')).toBe(false);
    expect(set.has('b') && set.has('c')).toBe(true);
  });

  it('stays bounded over many inserts', () => {
    const set = new RecentSet(1000);
    for (let i = 0; i < 100_000; i++) set.add(`t/${i}`);
    expect(set.size).toBe(1000);
    expect(set.has('t/99999') && set.has('t/99000')).toBe(true);
    expect(set.has('t/98999')).toBe(false);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RecentSet(0)).toThrow(RangeError);
  });
});
