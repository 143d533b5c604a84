/**
 * Duration sketch: a thin wrapper over `@datadog/sketches-js` DDSketch (logarithmic mapping,
 * dense store) with the conventions every report relies on.
 *
 * - Durations are milliseconds. DDSketch only maps positive values to buckets, so values below
 *   MIN_TRACKED_MS (1 µs, and 0, negative or NaN from clock skew) are counted as exact zeros in
 *   the sketch's zero bucket; values above MAX_TRACKED_MS (10^9 ms ≈ 11.6 days) are clamped.
 *   That bounds the dense store to ~1,400 bins at 1% accuracy whatever the input (a single
 *   1e-300 would otherwise make it allocate tens of thousands).
 * - Quantile rank convention: `quantile(q)` estimates the value at 0-based rank
 *   floor(q × (count − 1)) of the sorted values (the library's "lower" rank). Estimates are within
 *   `relativeAccuracy` of that value and clamped into [min, max]; q = 0 and q = 1 return the exact
 *   min and max.
 * - Small samples stay exact: up to RAW_LIMIT values `quantile(q)` interpolates linearly between the
 *   two ranks around q × (count − 1), as PostgreSQL's percentile_cont does, so p50 of [1, 2, 3, 4] is
 *   2.5 and p99 of two calls sits near the slower one (the lower rank would make it the faster one:
 *   a p99 under the mean). From the 65th value on the two conventions differ by less than one rank.
 *   The first RAW_LIMIT values are kept as a plain array (≤ 0.6 KiB)
 *   and only the 65th value moves them into a DDSketch (1.6–7 KiB once populated: the dense store
 *   allocates 128-bin chunks). Most window buckets of most rows see a few calls, so this cut the
 *   heap of a query row with 16 populated one-minute buckets from 64 KiB to ~13 KiB
 *   (bench/aggregate.bench.ts). Nothing is allocated before the first add.
 */
import { DDSketch } from '@datadog/sketches-js';

/** 1 µs: below this a duration is recorded as 0 (OTLP has ns resolution; such spans carry no signal). */
export const MIN_TRACKED_MS = 1e-3;
/** 10^9 ms: longer durations are clamped (bounds the store size). */
export const MAX_TRACKED_MS = 1e9;
/** Values kept exactly before switching to a DDSketch. */
export const RAW_LIMIT = 64;

function clamp(ms: number): number {
  // `!(ms >= MIN)` also catches NaN.
  if (!(ms >= MIN_TRACKED_MS)) return 0;
  return Math.min(ms, MAX_TRACKED_MS);
}

export class Sketch {
  private dd: DDSketch | null = null;
  private raw: number[] | null = null;

  constructor(readonly relativeAccuracy = 0.01) {}

  add(ms: number): void {
    const v = clamp(ms);
    if (this.dd !== null) {
      this.dd.accept(v);
      return;
    }
    if (this.raw === null) this.raw = [v];
    else if (this.raw.length < RAW_LIMIT) this.raw.push(v);
    else this.toSketch().accept(v);
  }

  /**
   * Adds other's values. With `move`, other's storage may be taken over instead of copied and
   * other is left empty (used when folding an expired window bucket).
   */
  merge(other: Sketch, move = false): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new Error(
        `cannot merge sketches of accuracy ${other.relativeAccuracy} into ${this.relativeAccuracy}`,
      );
    }
    if (other.count === 0) return;
    if (move && this.count === 0) {
      this.dd = other.dd;
      this.raw = other.raw;
      other.clear();
      return;
    }
    if (other.raw !== null) {
      for (const v of other.raw) this.add(v);
    } else if (other.dd !== null) {
      // The library merges the positive store and the zero count only: fine, nothing negative is added.
      this.toSketch().merge(other.dd);
    }
    if (move) other.clear();
  }

  /**
   * Value at 0-based rank q × (count − 1): interpolated while the values are exact, else the lower
   * rank's within relativeAccuracy (see above); 0 when empty.
   */
  quantile(q: number): number {
    const n = this.count;
    if (n === 0) return 0;
    if (this.raw !== null) {
      const sorted = [...this.raw].sort((a, b) => a - b);
      const rank = Math.min(Math.max(q, 0), 1) * (n - 1);
      const lower = Math.floor(rank);
      if (lower === n - 1) return sorted[lower];
      return sorted[lower] + (rank - lower) * (sorted[lower + 1] - sorted[lower]);
    }
    const dd = this.dd as DDSketch;
    // The extremes are known exactly; the bucket midpoint would be up to 1% off.
    if (q >= 1) return dd.max;
    if (q <= 0) return dd.min;
    return Math.min(Math.max(dd.getValueAtQuantile(q), dd.min), dd.max);
  }

  get count(): number {
    if (this.raw !== null) return this.raw.length;
    return this.dd === null ? 0 : this.dd.count;
  }

  /** Smallest recorded value (after the 1 µs floor), 0 when empty. */
  get min(): number {
    if (this.raw !== null) return Math.min(...this.raw);
    return this.dd === null || this.dd.count === 0 ? 0 : this.dd.min;
  }

  /** Largest recorded value (after clamping), 0 when empty. */
  get max(): number {
    if (this.raw !== null) return Math.max(...this.raw);
    return this.dd === null || this.dd.count === 0 ? 0 : this.dd.max;
  }

  /** Sum of recorded values (after the floor and clamp). */
  get sum(): number {
    if (this.raw !== null) return this.raw.reduce((a, b) => a + b, 0);
    return this.dd === null ? 0 : this.dd.sum;
  }

  /** Drops the storage; the next add allocates afresh. */
  clear(): void {
    this.dd = null;
    this.raw = null;
  }

  private toSketch(): DDSketch {
    if (this.dd === null) {
      this.dd = new DDSketch({ relativeAccuracy: this.relativeAccuracy });
      if (this.raw !== null) for (const v of this.raw) this.dd.accept(v);
      this.raw = null;
    }
    return this.dd;
  }
}
