import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { SpanSink } from '../pipeline/span-sink';
import { HeldRecommendationText } from './held-text';
import { writeHistogramLabelsOnce } from './histogram-lines';
import { METRICS } from './names';
import { MetricsRecorder } from './recorder';
import { type Point, SnapshotProducer, type SnapshotSource } from './snapshot-producer';
import {
  type LockActivity,
  type RecommendationSeries,
  type SidecarHealth,
  shortenAction,
  shortenText,
} from './sources';

export interface SpanstatMetricsOptions {
  /** Distinct label sets per metric before new ones go to the `__overflow__` series (metrics.maxSeriesPerMetric). */
  maxSeriesPerMetric: number;
  /** Longest statement / target label (metrics.maxStatementChars). */
  maxStatementChars: number;
  /** A fingerprint run this many times in one request counts as an N+1 occurrence (advisor.nPlusOne.minRepeats). */
  nPlusOneMinCalls: number;
  /** Shown on spanstat_build_info. */
  version?: string;
  /** Clock for the pool-usage window and the recommendation text's hold (tests). */
  now?: () => number;
}

/** The pipeline's metrics sink plus what the API server and the advisor plug in. */
export interface SpanstatMetrics extends SpanSink {
  /** Called at every scrape; returns the advisor's active recommendations. */
  setRecommendations(source: () => readonly RecommendationSeries[]): void;
  /** Called at every scrape; returns the sidecar's own counters. */
  setHealth(source: () => SidecarHealth): void;
  /** Called at every scrape; returns the spans each service's preload reported lost. */
  setPreloadSpansLost(source: () => ReadonlyMap<string, number>): void;
  /** Spans set aside per service as another SDK's copies of the preload's (classify/double-tracing.ts). */
  setDoubleTracedSpans(source: () => ReadonlyMap<string, number>): void;
  /** The service.versions each service ran lately (src/deploys). */
  setServiceVersions(source: () => readonly { service: string; version: string }[]): void;
  /** The lock sampler's counts (null or undefined when it is off). */
  setLockActivity(source: () => LockActivity | null | undefined): void;
  /**
   * The exposition text a scrape returns now: exporter-prometheus's collect and serializer, sent by the
   * API server (which gzips it for Prometheus: 5.9 MB of text at the series cap, ~0.2 MB gzipped).
   */
  scrape(): Promise<string>;
  /** Stops the reader; safe twice. */
  shutdown(): Promise<void>;
}

/**
 * Metrics on the API port through `@opentelemetry/exporter-prometheus`: the exporter is a
 * MetricReader with its own server disabled, and the API server mounts `handler`. The series come
 * from a MetricProducer over the recorder's state (see snapshot-producer.ts for why not SDK
 * instruments); the MeterProvider supplies the resource (`target_info`).
 */
export function createSpanstatMetrics(options: SpanstatMetricsOptions): SpanstatMetrics {
  const recorder = new MetricsRecorder({
    maxSeriesPerMetric: options.maxSeriesPerMetric,
    maxStatementChars: options.maxStatementChars,
    nPlusOneMinCalls: options.nPlusOneMinCalls,
    now: options.now ?? Date.now,
  });
  let recommendations: () => readonly RecommendationSeries[] = () => [];
  let health: (() => SidecarHealth) | undefined;
  let preloadSpansLost: () => ReadonlyMap<string, number> = () => new Map();
  let doubleTracedSpans: () => ReadonlyMap<string, number> = () => new Map();
  let lockActivity: () => LockActivity | null | undefined = () => undefined;
  let serviceVersions: () => readonly { service: string; version: string }[] = () => [];
  const lockValue = (pick: (a: LockActivity) => number): Point[] => {
    const activity = lockActivity();
    return onePoint(activity && activity.samples > 0 ? pick(activity) : undefined);
  };
  const activeRecommendations = () => recommendations().slice(0, options.maxSeriesPerMetric);
  const heldText = new HeldRecommendationText(options.now ?? Date.now);
  const healthValue = (pick: (h: SidecarHealth) => number | undefined): Point[] =>
    onePoint(health ? pick(health()) : undefined);
  const sources: SnapshotSource[] = [
    ...recorder.sources(),
    {
      def: METRICS.recommendationActive,
      points: () =>
        activeRecommendations().map((r) => ({
          value: 1,
          attributes: {
            service: r.service,
            id: r.id,
            kind: r.kind,
            severity: r.severity,
            target: shortenText(r.target, options.maxStatementChars),
            ...presentLabels(r),
          },
        })),
    },
    {
      def: METRICS.recommendationInfo,
      points: () => {
        const active = activeRecommendations();
        const texts = heldText.texts(active);
        return active.map((r, i) => ({
          value: 1,
          attributes: {
            service: r.service,
            id: r.id,
            title: shortenAction(texts[i].title),
            action: shortenAction(texts[i].action),
          },
        }));
      },
    },
    { def: METRICS.spansReceived, points: () => healthValue((h) => h.spansReceived) },
    { def: METRICS.spansRejected, points: () => healthValue((h) => h.spansRejected) },
    {
      def: METRICS.otlpRequestsRefused,
      points: () =>
        Object.entries(health?.().requestsRefused ?? {}).map(([reason, value]) => ({
          value,
          attributes: { reason },
        })),
    },
    { def: METRICS.spansDropped, points: () => healthValue((h) => h.spansDropped) },
    {
      def: METRICS.preloadSpansLost,
      points: () =>
        [...preloadSpansLost()]
          .slice(0, options.maxSeriesPerMetric)
          .map(([service, value]) => ({ value, attributes: { service } })),
    },
    {
      def: METRICS.doubleTracedSpans,
      points: () =>
        [...doubleTracedSpans()]
          .slice(0, options.maxSeriesPerMetric)
          .map(([service, value]) => ({ value, attributes: { service } })),
    },
    {
      def: METRICS.forwardedSpans,
      points: () =>
        Object.entries(health?.().forwardedSpans ?? {}).map(([outcome, value]) => ({
          value,
          attributes: { outcome },
        })),
    },
    {
      def: METRICS.forwardedDataPoints,
      points: () =>
        Object.entries(health?.().forwardedDataPoints ?? {}).map(([outcome, value]) => ({
          value,
          attributes: { outcome },
        })),
    },
    {
      def: METRICS.forwardedLogRecords,
      points: () =>
        Object.entries(health?.().forwardedLogRecords ?? {}).map(([outcome, value]) => ({
          value,
          attributes: { outcome },
        })),
    },
    {
      def: METRICS.serviceVersionInfo,
      points: () =>
        serviceVersions()
          .slice(0, options.maxSeriesPerMetric)
          .map(({ service, version }) => ({ value: 1, attributes: { service, version } })),
    },
    { def: METRICS.decodeErrors, points: () => healthValue((h) => h.decodeErrors) },
    { def: METRICS.queueDepth, points: () => healthValue((h) => h.queueDepth) },
    { def: METRICS.openTraces, points: () => healthValue((h) => h.openTraces) },
    { def: METRICS.dbLockWait, points: () => lockValue((a) => a.lockWaitSeconds) },
    { def: METRICS.dbIdleInTransaction, points: () => lockValue((a) => a.idleInTransactionSeconds) },
    { def: METRICS.memory, points: memoryPoints },
    {
      def: METRICS.buildInfo,
      points: () => [{ value: 1, attributes: { version: options.version ?? 'dev' } }],
    },
  ];

  const exporter = new PrometheusExporter({
    preventServerStart: true,
    // otel_scope_name on every series would only repeat "spanstat".
    withoutScopeInfo: true,
    metricProducers: [new SnapshotProducer(sources, 'spanstat')],
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'spanstat' }),
    readers: [exporter],
  });
  const serializer = new PrometheusSerializer('', false, undefined, false, true);
  writeHistogramLabelsOnce(serializer);

  let stopped = false;
  return {
    recordDbCall: (call) => recorder.recordDbCall(call),
    recordCacheCall: (call) => recorder.recordCacheCall(call),
    recordPoolConnect: (call) => recorder.recordPoolConnect(call),
    recordPoolUsage: (sample) => recorder.recordPoolUsage(sample),
    recordRequest: (summary) => recorder.recordRequest(summary),
    setRecommendations(source) {
      recommendations = source;
    },
    setHealth(source) {
      health = source;
    },
    setPreloadSpansLost(source) {
      preloadSpansLost = source;
    },
    setDoubleTracedSpans(source) {
      doubleTracedSpans = source;
    },
    setLockActivity(source) {
      lockActivity = source;
    },
    setServiceVersions(source) {
      serviceVersions = source;
    },
    async scrape() {
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      await provider.shutdown();
    },
  };
}

/** A label-less metric's one point, or none when there is no value to report. */
function onePoint(value: number | undefined): Point[] {
  return value === undefined ? [] : [{ value, attributes: {} }];
}

function memoryPoints(): Point[] {
  const m = process.memoryUsage();
  return [
    { value: m.rss, attributes: { area: 'rss' } },
    { value: m.heapUsed, attributes: { area: 'heap_used' } },
    { value: m.heapTotal, attributes: { area: 'heap_total' } },
    { value: m.external, attributes: { area: 'external' } },
  ];
}

/** The recommendation's target parts that are present (an empty label is an absent one to Prometheus). */
function presentLabels(r: RecommendationSeries): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const key of ['fingerprint', 'method', 'route', 'namespace', 'system', 'pool'] as const) {
    const value = r[key];
    if (value) labels[key] = value;
  }
  return labels;
}
