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
 *   floor(q × (count − 1)) of the sorted values (the library's "lower" rank), so p50 of
 *   [1, 2, 3, 4] is 2. Estimates are within `relativeAccuracy` of that value and clamped into
 *   [min, max]; q = 0 and q = 1 return the exact min and max.
 * - The DDSketch is allocated on the first add (an empty Sketch is a few dozen bytes; a populated
 *   one 2–7 KiB), which keeps idle window buckets cheap.
 */
import { DDSketch } from '@datadog/sketches-js';

/** 1 µs: below this a duration is recorded as 0 (OTLP has ns resolution; such spans carry no signal). */
export const MIN_TRACKED_MS = 1e-3;
/** 10^9 ms: longer durations are clamped (bounds the store size). */
export const MAX_TRACKED_MS = 1e9;

export class Sketch {
  private dd: DDSketch | null = null;

  constructor(readonly relativeAccuracy = 0.01) {}

  add(ms: number): void {
    if (this.dd === null) this.dd = new DDSketch({ relativeAccuracy: this.relativeAccuracy });
    // `!(ms >= MIN)` also catches NaN.
    if (!(ms >= MIN_TRACKED_MS)) this.dd.accept(0);
    else this.dd.accept(Math.min(ms, MAX_TRACKED_MS));
  }

  /**
   * Adds other's values. With `move`, other's storage may be taken over instead of copied and
   * other is left empty (used when folding an expired window bucket).
   */
  merge(other: Sketch, move = false): void {
    const src = other.dd;
    if (src === null || src.count === 0) return;
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new Error(
        `cannot merge sketches of accuracy ${other.relativeAccuracy} into ${this.relativeAccuracy}`,
      );
    }
    if (move && (this.dd === null || this.dd.count === 0)) {
      this.dd = src;
      other.dd = null;
      return;
    }
    if (this.dd === null) this.dd = new DDSketch({ relativeAccuracy: this.relativeAccuracy });
    // The library merges the positive store and the zero count only: fine, nothing negative is added.
    this.dd.merge(src);
    if (move) other.dd = null;
  }

  /** Value at 0-based rank floor(q × (count − 1)), within relativeAccuracy; 0 when empty. */
  quantile(q: number): number {
    const dd = this.dd;
    if (dd === null || dd.count === 0) return 0;
    // The extremes are known exactly; the bucket midpoint would be up to 1% off.
    if (q >= 1) return dd.max;
    if (q <= 0) return dd.min;
    return Math.min(Math.max(dd.getValueAtQuantile(q), dd.min), dd.max);
  }

  get count(): number {
    return this.dd === null ? 0 : this.dd.count;
  }

  /** Smallest recorded value (after the 1 µs floor), 0 when empty. */
  get min(): number {
    return this.count === 0 ? 0 : (this.dd as DDSketch).min;
  }

  /** Largest recorded value (after clamping), 0 when empty. */
  get max(): number {
    return this.count === 0 ? 0 : (this.dd as DDSketch).max;
  }

  /** Sum of recorded values (after the floor and clamp). */
  get sum(): number {
    return this.dd === null ? 0 : this.dd.sum;
  }

  /** Drops the storage; the next add allocates afresh. */
  clear(): void {
    this.dd = null;
  }
}
