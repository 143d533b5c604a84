import { describe, expect, it } from 'vitest';
import { Sketch } from '../../src/aggregate/sketch';
import { type AccumulatorOps, Windowed, windowStartMs } from '../../src/aggregate/windowed';

interface Acc {
  n: number;
  sketch: Sketch;
}

const ops: AccumulatorOps<Acc> = {
  create: () => ({ n: 0, sketch: new Sketch() }),
  merge(into, from, move) {
    into.n += from.n;
    into.sketch.merge(from.sketch, move);
    if (move) from.n = 0;
  },
};

const MIN = 60_000;
/** A receive time well past the epoch, 10 s into a bucket. */
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MIN) + 10_000;

function record(w: Windowed<Acc>, at: number, n = 1, ms = 1): void {
  const acc = w.at(at);
  acc.n += n;
  for (let i = 0; i < n; i++) acc.sketch.add(ms);
}

function counts(w: Windowed<Acc>, now: number) {
  return {
    '1m': w.snapshot('1m', now).n,
    '5m': w.snapshot('5m', now).n,
    '15m': w.snapshot('15m', now).n,
    all: w.snapshot('all', now).n,
  };
}

describe('Windowed', () => {
  it('puts a record in every window that covers its bucket', () => {
    const w = new Windowed(ops, MIN);
    record(w, T0 - 20 * MIN, 1); // 20 min ago: only in all
    record(w, T0 - 10 * MIN, 2); // 10 min ago: 15m and all
    record(w, T0 - 3 * MIN, 4); // 3 min ago: 5m, 15m, all
    record(w, T0 - 1 * MIN, 8); // previous bucket: 1m too
    record(w, T0, 16); // current bucket
    expect(counts(w, T0)).toEqual({ '1m': 24, '5m': 28, '15m': 30, all: 31 });
  });

  it('covers the current partial bucket plus n full buckets before it', () => {
    // 10 s into a bucket, 1m starts at the beginning of the previous bucket: 70 s back.
    expect(T0 - windowStartMs('1m', T0, MIN)).toBe(70_000);
    expect(T0 - windowStartMs('5m', T0, MIN)).toBe(5 * MIN + 10_000);
    expect(T0 - windowStartMs('15m', T0, MIN)).toBe(15 * MIN + 10_000);
    expect(windowStartMs('all', T0, MIN)).toBe(Number.NEGATIVE_INFINITY);
    // A bucket width that does not divide the window rounds the bucket count up.
    expect(T0 - windowStartMs('1m', T0, 45_000)).toBe(2 * 45_000 + (T0 % 45_000));
  });

  it('drops a bucket out of a window once the clock moves past it', () => {
    const w = new Windowed(ops, MIN);
    record(w, T0, 3);
    expect(w.snapshot('1m', T0 + MIN).n).toBe(3);
    expect(w.snapshot('1m', T0 + 2 * MIN).n).toBe(0);
    expect(w.snapshot('5m', T0 + 5 * MIN).n).toBe(3);
    expect(w.snapshot('5m', T0 + 6 * MIN).n).toBe(0);
    expect(w.snapshot('15m', T0 + 15 * MIN).n).toBe(3);
    expect(w.snapshot('15m', T0 + 16 * MIN).n).toBe(0);
    expect(w.snapshot('all', T0 + 60 * MIN).n).toBe(3);
  });

  it('folds an expired bucket into all when its slot is reused, keeping percentiles', () => {
    const w = new Windowed(ops, MIN);
    record(w, T0, 10, 100);
    // 16 buckets later the same ring slot is needed again.
    record(w, T0 + 16 * MIN, 10, 1);
    expect(counts(w, T0 + 16 * MIN)).toEqual({ '1m': 10, '5m': 10, '15m': 10, all: 20 });
    const all = w.snapshot('all', T0 + 16 * MIN).sketch;
    expect(all.count).toBe(20);
    expect(all.max).toBe(100);
    expect(w.snapshot('15m', T0 + 16 * MIN).sketch.max).toBe(1);
  });

  it('prune releases expired buckets and reports when nothing recent is left', () => {
    const w = new Windowed(ops, MIN);
    record(w, T0, 2);
    expect(w.prune(T0 + 15 * MIN)).toBe(false);
    expect(w.prune(T0 + 16 * MIN)).toBe(true);
    expect(counts(w, T0 + 16 * MIN)).toEqual({ '1m': 0, '5m': 0, '15m': 0, all: 2 });
  });

  it('keeps adding to the newest bucket when the clock steps back', () => {
    const w = new Windowed(ops, MIN);
    record(w, T0 + 16 * MIN, 1);
    record(w, T0, 1); // same slot, older epoch: must not evict the newer data
    expect(w.snapshot('1m', T0 + 16 * MIN).n).toBe(2);
  });

  it('sums one field over a window without building a snapshot', () => {
    const w = new Windowed(ops, MIN);
    record(w, T0 - 30 * MIN, 5);
    record(w, T0 - 2 * MIN, 7);
    record(w, T0, 1);
    w.prune(T0);
    expect(w.sum('5m', T0, (a) => a.n)).toBe(8);
    expect(w.sum('all', T0, (a) => a.n)).toBe(13);
  });

  it('absorbs another window bucket by bucket and empties it', () => {
    const a = new Windowed(ops, MIN);
    const b = new Windowed(ops, MIN);
    record(a, T0 - 30 * MIN, 1);
    record(a, T0, 2);
    record(b, T0 - 40 * MIN, 4);
    record(b, T0 - 3 * MIN, 8);
    record(b, T0, 16);
    b.prune(T0);
    a.absorb(b);
    expect(counts(a, T0)).toEqual({ '1m': 18, '5m': 26, '15m': 26, all: 31 });
    expect(counts(b, T0)).toEqual({ '1m': 0, '5m': 0, '15m': 0, all: 0 });
  });

  it('absorbs an older bucket that shares a slot with a newer one into all only', () => {
    const a = new Windowed(ops, MIN);
    const b = new Windowed(ops, MIN);
    record(a, T0, 1);
    record(b, T0 - 16 * MIN, 2); // same ring slot, 16 buckets older
    a.absorb(b);
    expect(counts(a, T0)).toEqual({ '1m': 1, '5m': 1, '15m': 1, all: 3 });
  });
});
