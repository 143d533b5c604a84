/** Small exact statistics for bench numbers (the code under test has its own sketches). */
import { seededRandom } from '../../scripts/lib/seeded-random';

export function median(xs: readonly number[]): number {
  return quantileOf(xs, 0.5);
}

/** Exact quantile by the nearest-rank method on a sorted copy (q in 0..1); NaN for no data. */
export function quantileOf(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = Float64Array.from(xs).sort();
  return quantileSorted(sorted, q);
}

/** Nearest rank on data already sorted ascending: the smallest value with ≥ q of the data at or below it. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sorted[rank - 1];
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than two points. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i];
    sy += ys[i];
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** Relative error |got − want| / want (0 when both are 0). */
export function relativeError(got: number, want: number): number {
  if (want === 0) return got === 0 ? 0 : Number.POSITIVE_INFINITY;
  return Math.abs(got - want) / Math.abs(want);
}

export { seededRandom };
