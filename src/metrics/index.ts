export {
  DASHBOARDS,
  type DashboardKey,
  dashboardUrl,
  GRAFANA_BASE_URL,
  SPANSTAT_BASE_URL,
} from './dashboards-meta';
export {
  allSeriesNames,
  LABELS,
  type LabelDef,
  type LabelKey,
  labelNames,
  METRICS,
  type MetricDef,
  type MetricKey,
  type MetricType,
  OVERFLOW_VALUE,
  seriesNames,
} from './names';
export { POOL_PEAK_BUCKET_MS, type PoolSnapshot, PoolUsage } from './pool-usage';
export {
  createSpanstatMetrics,
  type SpanstatMetrics,
  type SpanstatMetricsOptions,
} from './prometheus-exporter';
export { MetricsRecorder, type RecorderOptions, statusClass } from './recorder';
export { CounterSeries, HistogramSeries } from './series';
export { BoundedSeries, KEY_SEPARATOR } from './series-cap';
export { type Point, SnapshotProducer, type SnapshotSource } from './snapshot-producer';
export {
  MAX_ACTION_CHARS,
  type RecommendationLike,
  type RecommendationSeries,
  recommendationSeries,
  type SidecarHealth,
  shortenAction,
  shortenText,
} from './sources';
