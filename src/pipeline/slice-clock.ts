/**
 * The time of the pipeline's current slice of spans. The pipeline reads the real clock once when a
 * slice (or an assembler sweep) starts, and every record made in it is stamped with that time:
 * Date.now() costs ~90 ns on the 2-vCPU VM, ~3% of a span's whole pipeline time when read per span.
 * A slice is at most SPANS_PER_TURN spans (a few milliseconds), far below the aggregator's buckets.
 */
export class SliceClock {
  private nowMs: number;

  constructor(private readonly source: () => number = Date.now) {
    this.nowMs = source();
  }

  /** Reads the real clock: a slice or a sweep starts. */
  advance(): number {
    this.nowMs = this.source();
    return this.nowMs;
  }

  /** The current slice's time (bound: hand it over as a clock function). */
  readonly now = (): number => this.nowMs;
}
