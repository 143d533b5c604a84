export { Pipeline, type PipelineOptions, type PipelineStats } from './pipeline';
export type { SpanSink } from './span-sink';
