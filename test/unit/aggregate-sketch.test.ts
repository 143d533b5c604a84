import { describe, expect, it } from 'vitest';
import { seededRandom as prng } from '../../scripts/lib/seeded-random';
import { MAX_TRACKED_MS, RAW_LIMIT, Sketch } from '../../src/aggregate/sketch';

function normal(rand: () => number): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const N = 1_000_000;
const distributions: Record<string, (rand: () => number) => number> = {
  // 0.05–250 ms, flat.
  uniform: (rand) => 0.05 + rand() * 250,
  // Median 4 ms with a long tail, like query latency.
  lognormal: (rand) => Math.exp(Math.log(4) + 1.1 * normal(rand)),
  // 85% cache-hit-fast around 0.3 ms, 15% slow around 60 ms.
  bimodal: (rand) =>
    rand() < 0.85
      ? Math.exp(Math.log(0.3) + 0.3 * normal(rand))
      : Math.exp(Math.log(60) + 0.5 * normal(rand)),
};

/** The rank convention Sketch documents: 0-based rank floor(q × (n − 1)) of the sorted values. */
function exact(sorted: Float64Array, q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

describe('Sketch', () => {
  for (const [name, draw] of Object.entries(distributions)) {
    it(`estimates p50, p95 and p99 of 1M ${name} values within 1% of the exact order statistic`, () => {
      const rand = prng(42);
      const values = new Float64Array(N);
      const sketch = new Sketch(0.01);
      for (let i = 0; i < N; i++) {
        const v = draw(rand);
        values[i] = v;
        sketch.add(v);
      }
      values.sort();
      expect(sketch.count).toBe(N);
      for (const q of [0.5, 0.95, 0.99]) {
        const truth = exact(values, q);
        const relErr = Math.abs(sketch.quantile(q) - truth) / truth;
        expect(relErr, `q=${q} truth=${truth}`).toBeLessThanOrEqual(0.01 + 1e-12);
      }
      expect(sketch.quantile(1)).toBe(values[N - 1]);
      expect(sketch.quantile(0)).toBe(values[0]);
    });
  }

  it('interpolates between ranks while it holds few values: p50 of 1, 2, 3, 4 is 2.5', () => {
    const s = new Sketch();
    for (const v of [4, 1, 3, 2]) s.add(v);
    expect(s.quantile(0.5)).toBe(2.5);
    expect(s.quantile(1)).toBe(4);
    // Two calls: p99 sits next to the slower one, not at the faster one (a p99 under the mean).
    const two = new Sketch();
    for (const v of [1.5, 6.5]) two.add(v);
    expect(two.quantile(0.99)).toBeCloseTo(6.45, 12);
    expect(two.quantile(0.5)).toBe(4);
  });

  it('uses the lower rank once it holds more than RAW_LIMIT values', () => {
    const s = new Sketch();
    for (let v = 1; v <= RAW_LIMIT + 1; v++) s.add(v);
    // Rank floor(0.5 × 64) = 32 → the value 33, within 1%.
    expect(Math.abs(s.quantile(0.5) - 33) / 33).toBeLessThanOrEqual(0.01);
  });

  it('returns 0 for every quantile of an empty sketch', () => {
    const s = new Sketch();
    expect([s.quantile(0.5), s.count, s.min, s.max, s.sum]).toEqual([0, 0, 0, 0, 0]);
  });

  it('records zero, negative, NaN and sub-microsecond durations as exact zeros', () => {
    const s = new Sketch();
    for (const v of [0, -3, Number.NaN, 0.0004]) s.add(v);
    s.add(10);
    expect(s.count).toBe(5);
    expect(s.quantile(0.5)).toBe(0);
    expect(s.min).toBe(0);
    expect(s.quantile(1)).toBe(10);
  });

  it('clamps absurdly long durations so the store stays bounded', () => {
    const s = new Sketch();
    s.add(1e300);
    s.add(Number.POSITIVE_INFINITY);
    expect(s.max).toBe(MAX_TRACKED_MS);
    expect(s.quantile(0.99)).toBe(MAX_TRACKED_MS);
  });

  it('merges to the same quantiles as adding every value to one sketch', () => {
    const rand = prng(7);
    const a = new Sketch();
    const b = new Sketch();
    const all = new Sketch();
    for (let i = 0; i < 20_000; i++) {
      const v = distributions.lognormal(rand);
      (i % 3 === 0 ? a : b).add(v);
      all.add(v);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    for (const q of [0.5, 0.9, 0.99]) expect(a.quantile(q)).toBe(all.quantile(q));
    expect(b.count).toBe(13_333);
  });

  it('moves storage on a merge with move and leaves the source empty', () => {
    const from = new Sketch();
    from.add(5);
    from.add(7);
    const into = new Sketch();
    into.merge(from, true);
    expect(into.count).toBe(2);
    expect(from.count).toBe(0);
    from.add(1);
    expect(into.count).toBe(2);
  });

  it('gives exact interpolated quantiles while a sketch holds few values', () => {
    const rand = prng(3);
    const s = new Sketch();
    const values: number[] = [];
    for (let i = 0; i < RAW_LIMIT; i++) {
      const v = distributions.lognormal(rand);
      values.push(v);
      s.add(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const rank = q * (values.length - 1);
      const lower = Math.floor(rank);
      const interpolated = values[lower] + (rank - lower) * (values[lower + 1] - values[lower]);
      expect(s.quantile(q)).toBe(interpolated);
    }
    expect(s.sum).toBeCloseTo(
      values.reduce((a, b) => a + b, 0),
      9,
    );
  });

  it('stays within 1% after switching from exact values to the sketch, and across merges of both kinds', () => {
    const rand = prng(11);
    const small = new Sketch();
    const big = new Sketch();
    const values: number[] = [];
    for (let i = 0; i < 10; i++) {
      const v = distributions.bimodal(rand);
      small.add(v);
      values.push(v);
    }
    for (let i = 0; i < 5000; i++) {
      const v = distributions.bimodal(rand);
      big.add(v);
      values.push(v);
    }
    small.merge(big);
    const sorted = Float64Array.from(values).sort();
    expect(small.count).toBe(5010);
    for (const q of [0.5, 0.95, 0.99]) {
      const truth = exact(sorted, q);
      expect(Math.abs(small.quantile(q) - truth) / truth).toBeLessThanOrEqual(0.01 + 1e-12);
    }
  });

  it('refuses to merge sketches of different accuracy', () => {
    const a = new Sketch(0.01);
    const b = new Sketch(0.02);
    b.add(1);
    expect(() => a.merge(b)).toThrow(/accuracy/);
  });
});
