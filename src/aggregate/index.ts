export { Aggregator, type AggregatorOptions, type WindowRange } from './aggregator';
export {
  BoundedTable,
  MAX_OVERFLOW_ROWS,
  OVERFLOW_KEY,
  OVERFLOW_LABEL,
  type RowFactory,
} from './bounded-table';
export { MAX_TRACKED_MS, MIN_TRACKED_MS, Sketch } from './sketch';
export { type KeyCount, TopK } from './top-k';
export { type AccumulatorOps, WINDOW_MS, Windowed, windowBuckets, windowStartMs } from './windowed';
