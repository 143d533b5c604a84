import type { Attributes } from '@opentelemetry/api';

/** A monotonic counter for one label set. */
export class CounterSeries {
  value = 0;
  constructor(readonly attributes: Attributes) {}
}

/**
 * A fixed-bucket histogram for one label set: `counts[i]` holds observations in
 * (boundaries[i-1], boundaries[i]], the last slot those above every boundary (Prometheus `le` semantics).
 */
export class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly attributes: Attributes,
    readonly boundaries: readonly number[],
  ) {
    this.counts = new Array(boundaries.length + 1).fill(0);
  }

  record(value: number): void {
    // Linear scan: ≤14 boundaries, most observations land in the first few buckets.
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}
