export { DASHBOARDS, type DashboardKey, dashboardUrl, GRAFANA_BASE_URL } from './dashboards-meta';
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
export { POOL_PEAK_BUCKET_MS, PoolUsage, type PoolSnapshot } from './pool-usage';
export { createSpanstatMetrics, type SpanstatMetrics, type SpanstatMetricsOptions } from './prometheus-exporter';
export { MetricsRecorder, type RecorderOptions, statusClass } from './recorder';
export { BoundedSeries, KEY_SEPARATOR } from './series-cap';
export { CounterSeries, HistogramSeries } from './series';
export { type Point, SnapshotProducer, type SnapshotSource } from './snapshot-producer';
export {
  MAX_ACTION_CHARS,
  type RecommendationSeries,
  type SidecarHealth,
  shortenAction,
  shortenText,
} from './sources';
