/** Small helpers shared by the accumulators. */

/** Non-negative finite duration: clock skew can make end < start, and bad input NaN. */
export function ms(value: number): number {
  return value > 0 && value < Number.POSITIVE_INFINITY ? value : 0;
}

export interface MaxWithTrace {
  maxMs: number;
  /** Trace of the largest value: the example worth opening; '' when none yet. */
  maxTraceId: string;
}

/** Keeps the largest value and its trace (any trace while none is known). */
export function noteMax(acc: MaxWithTrace, value: number, traceId: string): void {
  if (value > acc.maxMs) {
    acc.maxMs = value;
    if (traceId !== '') acc.maxTraceId = traceId;
  } else if (acc.maxTraceId === '') acc.maxTraceId = traceId;
}
