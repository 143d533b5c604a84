import { describe, expect, it } from 'vitest';
import { SenderLossTable } from '../../src/aggregate/sender-loss';

describe('SenderLossTable', () => {
  it("sums the latest count of each of a service's processes, per service", () => {
    const table = new SenderLossTable();
    table.record('shop', { instance: 'a', lostSpans: 5 });
    table.record('shop', { instance: 'b', lostSpans: 7 });
    table.record('shop', { instance: 'a', lostSpans: 9 });
    table.record('billing', { instance: 'a', lostSpans: 2 });
    expect(table.byService()).toEqual(
      new Map([
        ['shop', 16],
        ['billing', 2],
      ]),
    );
  });

  it('never lowers a count: an older report arriving late changes nothing', () => {
    const table = new SenderLossTable();
    table.record('shop', { instance: 'a', lostSpans: 30 });
    table.record('shop', { instance: 'a', lostSpans: 12 });
    expect(table.byService().get('shop')).toBe(30);
  });

  it('keeps an evicted process in its service total, evicting the one heard from least recently', () => {
    const table = new SenderLossTable(2);
    table.record('shop', { instance: 'old', lostSpans: 4 });
    table.record('shop', { instance: 'busy', lostSpans: 1 });
    table.record('shop', { instance: 'old', lostSpans: 6 }); // heard from again: now 'busy' is the oldest
    table.record('billing', { instance: 'new', lostSpans: 3 });
    expect(table.byService()).toEqual(
      new Map([
        ['shop', 7],
        ['billing', 3],
      ]),
    );
    // 'old' is still tracked (its count can still grow), 'busy' was retired with its 1.
    table.record('shop', { instance: 'old', lostSpans: 10 });
    expect(table.byService().get('shop')).toBe(11);
  });
});
