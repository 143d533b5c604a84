export { Pipeline, type PipelineOptions, type PipelineStats } from './pipeline';
export { SliceClock } from './slice-clock';
export type { SpanSink } from './span-sink';
