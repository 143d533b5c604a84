/**
 * The one place that names spanstat's Prometheus metrics: name, type, unit, help, labels and
 * histogram buckets. The exporter creates its instruments from this table; the Grafana dashboards
 * read it; test/unit/metrics-names.test.ts checks every metric name the alert rules and dashboards
 * use against it.
 *
 * Conventions (prometheus.io/docs/practices/naming): base units in the name (`_seconds`, `_bytes`),
 * counters end in `_total`, info metrics in `_info` with value 1.
 *
 * Privacy: no label ever carries a SQL literal, a parameter value or the id part of a Redis key.
 * Labels hold fingerprints, normalized statements, key namespaces (`user:*`) and route templates
 * (`/users/:id`), which the classifier produces with those parts already removed.
 */
import { INFO_TEXT_HOLD_MS } from './held-text';

/** Label value every high-cardinality label takes once a metric is over its series cap. */
export const OVERFLOW_VALUE = '__overflow__';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface LabelDef {
  readonly name: string;
  /**
   * True when the label only takes a small fixed set of values (hit|miss, 2xx…). Bounded labels
   * keep their value in the overflow series; all others become `__overflow__`, so the overflow
   * series of a metric are at most the product of its bounded labels' value sets.
   */
  readonly bounded: boolean;
  readonly help: string;
}

export const LABELS = {
  service: { name: 'service', bounded: false, help: 'service.name of the instrumented app' },
  system: { name: 'system', bounded: false, help: 'db.system: postgresql, redis, …' },
  pool: {
    name: 'pool',
    bounded: false,
    help: "which of the service's pools: db.client.connection.pool.name (the preload's host:port/database, and the pool's own application_name in parentheses); empty when the spans name none",
  },
  fingerprint: { name: 'fingerprint', bounded: false, help: 'stable id of the statement shape' },
  operation: { name: 'operation', bounded: false, help: 'SQL verb: SELECT, INSERT, …' },
  table: { name: 'table', bounded: false, help: 'first table the statement names' },
  statement: { name: 'statement', bounded: false, help: 'normalized statement ($1 placeholders), truncated' },
  namespace: { name: 'namespace', bounded: false, help: 'Redis key namespace with ids as *' },
  command: { name: 'command', bounded: false, help: 'lower-case Redis command' },
  result: { name: 'result', bounded: true, help: 'hit | miss | unknown' },
  method: { name: 'method', bounded: false, help: 'HTTP method, or JOB / CONSUMER for background work' },
  route: { name: 'route', bounded: false, help: 'route template, e.g. /users/:id; a job or consumer name' },
  status_class: {
    name: 'status_class',
    bounded: true,
    help: '1xx … 5xx, unknown, or error (failed without a status code: a job or consumer run)',
  },
  component: { name: 'component', bounded: true, help: 'db | cache | pool_wait | other' },
  id: { name: 'id', bounded: false, help: 'stable recommendation id' },
  kind: { name: 'kind', bounded: false, help: 'recommendation kind: n_plus_one, slow_query, …' },
  severity: { name: 'severity', bounded: true, help: 'info | warning | critical' },
  target: { name: 'target', bounded: false, help: 'route, statement, namespace or pool it is about' },
  title: { name: 'title', bounded: false, help: 'what is wrong, with the current numbers' },
  action: { name: 'action', bounded: false, help: 'what to do, shortened' },
  area: { name: 'area', bounded: true, help: 'rss | heap_used | heap_total | external' },
  metric: { name: 'metric', bounded: true, help: 'metric name (self-observability)' },
  reason: {
    name: 'reason',
    bounded: true,
    help: 'why an OTLP request was refused: overloaded | too_large | unsupported_media',
  },
  version: { name: 'version', bounded: true, help: 'spanstat version' },
  serviceVersion: {
    name: 'version',
    bounded: false,
    help: 'service.version of the app (its OTLP resource; the preload sends the package.json version by default)',
  },
  outcome: {
    name: 'outcome',
    bounded: true,
    help: 'what became of forwarded spans, data points or log records: sent | dropped (queue full, shutdown) | rejected (upstream 4xx, or refused in a partial success)',
  },
} as const satisfies Record<string, LabelDef>;

export type LabelKey = keyof typeof LABELS;

export interface MetricDef {
  /** Name as Prometheus shows it (histograms add _bucket, _sum and _count). */
  readonly name: string;
  readonly type: MetricType;
  /**
   * Prometheus base unit, also the name's suffix before `_total` (`seconds`, `bytes`); empty for
   * counts and ratios. Not sent as OpenTelemetry unit: the exporter would print it as a `# UNIT`
   * line in UCUM (`s`), which the classic text format does not define.
   */
  readonly unit: '' | 'seconds' | 'bytes';
  readonly help: string;
  readonly labels: readonly LabelKey[];
  /** Explicit histogram bucket upper bounds, in the metric's unit. */
  readonly buckets?: readonly number[];
}

/**
 * Query latency buckets (seconds): 0.5 ms to 10 s, dense around the 20 ms (PgHero "slow" mean),
 * 100 ms and 500 ms (Sentry / perf-sentinel "slow query") marks the alerts and dashboards use.
 */
const DB_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Redis commands are sub-millisecond when healthy. */
const CACHE_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];
/** Endpoint buckets: 0.1 and 0.2 s are boundaries so the p95 SLO alert (200 ms) is exact at the line. */
const HTTP_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];
const POOL_WAIT_SECONDS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
/**
 * N+1 shows as a tail here: 5 is the Sentry/perf-sentinel repeat threshold. A boundary at every count up
 * to 6 so the dashboard's p95 (ceil of histogram_quantile, which interpolates inside a bucket) is exact there.
 */
const QUERIES_PER_REQUEST = [0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50, 100, 200];

export const METRICS = {
  dbQueryDuration: {
    name: 'spanstat_db_query_duration_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'Duration of database queries, per statement fingerprint',
    labels: ['service', 'system', 'fingerprint', 'operation', 'table'],
    buckets: DB_SECONDS,
  },
  dbQueryErrors: {
    name: 'spanstat_db_query_errors_total',
    type: 'counter',
    unit: '',
    help: 'Database queries that ended with an error status, per statement fingerprint',
    labels: ['service', 'system', 'fingerprint', 'operation', 'table'],
  },
  dbQueryInfo: {
    name: 'spanstat_db_query_info',
    type: 'gauge',
    unit: '',
    help: 'Always 1: maps a fingerprint to its normalized statement (literals replaced, truncated)',
    labels: ['service', 'fingerprint', 'statement'],
  },
  dbNPlusOne: {
    name: 'spanstat_db_n_plus_one_total',
    type: 'counter',
    unit: '',
    help: 'Requests in which one statement fingerprint ran at least the N+1 repeat threshold of times',
    labels: ['service', 'method', 'route', 'fingerprint'],
  },
  dbPoolWaitDuration: {
    name: 'spanstat_db_pool_wait_duration_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'Time spent waiting for a pooled database connection (pg-pool connect spans)',
    labels: ['service', 'system', 'pool'],
    buckets: POOL_WAIT_SECONDS,
  },
  dbPoolClientsInUse: {
    name: 'spanstat_db_pool_clients_in_use',
    type: 'gauge',
    unit: '',
    help: 'Most pool clients in use at once during the last 15-30 s (waited connects and the preload 5-s usage samples)',
    labels: ['service', 'system', 'pool'],
  },
  dbPoolClientsMax: {
    name: 'spanstat_db_pool_clients_max',
    type: 'gauge',
    unit: '',
    help: 'Configured pool size, as last reported by the preload',
    labels: ['service', 'system', 'pool'],
  },
  dbPoolWaiting: {
    name: 'spanstat_db_pool_waiting',
    type: 'gauge',
    unit: '',
    help: "Most checkouts (pg-pool) or queries (postgres.js) waiting for a connection at once during the last 15-30 s, from the preload's 5-s usage samples",
    labels: ['service', 'system', 'pool'],
  },
  dbLockWait: {
    name: 'spanstat_db_lock_wait_seconds_total',
    type: 'counter',
    unit: 'seconds',
    help: "Session-seconds spent waiting on locks in the advisor's databases (advisor.postgresUrl and advisor.databases), estimated from pg_stat_activity samples: waiting sessions x advisor.lockSampleMs",
    labels: [],
  },
  dbIdleInTransaction: {
    name: 'spanstat_db_idle_in_transaction_seconds',
    type: 'gauge',
    unit: 'seconds',
    help: "Longest time a session of the advisor's database has been idle in transaction, at the latest lock sample (0 when none)",
    labels: [],
  },
  cacheReads: {
    name: 'spanstat_cache_reads_total',
    type: 'counter',
    unit: '',
    help: 'Keys read from the cache, by result (an MGET of 3 keys counts 3)',
    labels: ['service', 'system', 'namespace', 'command', 'result'],
  },
  cacheWrites: {
    name: 'spanstat_cache_writes_total',
    type: 'counter',
    unit: '',
    help: 'Cache commands that wrote or expired a value',
    labels: ['service', 'system', 'namespace', 'command'],
  },
  cacheWritesWithoutExpiry: {
    name: 'spanstat_cache_writes_without_expiry_total',
    type: 'counter',
    unit: '',
    help: 'Cache writes that left their key without an expiry (SET without EX/PX/KEEPTTL, MSET, SETNX, GETSET, PERSIST), per key namespace',
    labels: ['service', 'system', 'namespace'],
  },
  cacheCommandDuration: {
    name: 'spanstat_cache_command_duration_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'Duration of cache commands, per key namespace',
    labels: ['service', 'system', 'namespace', 'command'],
    buckets: CACHE_SECONDS,
  },
  httpRequestDuration: {
    name: 'spanstat_http_server_request_duration_seconds',
    type: 'histogram',
    unit: 'seconds',
    help: 'Duration of served HTTP requests, per route template, and of job and consumer runs (method JOB / CONSUMER)',
    labels: ['service', 'method', 'route', 'status_class'],
    buckets: HTTP_SECONDS,
  },
  httpRequestComponentTime: {
    name: 'spanstat_http_server_request_component_seconds_total',
    type: 'counter',
    unit: 'seconds',
    help: 'Request wall time by where it went: db, cache, pool_wait, other (calls in flight together count once; the four add up to the duration)',
    labels: ['service', 'method', 'route', 'component'],
  },
  httpRequestDbQueries: {
    name: 'spanstat_http_server_request_db_queries',
    type: 'histogram',
    unit: '',
    help: 'Database queries run per served request',
    labels: ['service', 'method', 'route'],
    buckets: QUERIES_PER_REQUEST,
  },
  recommendationActive: {
    name: 'spanstat_recommendation_active',
    type: 'gauge',
    unit: '',
    help: 'Always 1: one series per active recommendation of the advisor (stable labels only)',
    labels: [
      'service',
      'id',
      'kind',
      'severity',
      'target',
      'fingerprint',
      'method',
      'route',
      'namespace',
      'system',
      'pool',
    ],
  },
  recommendationInfo: {
    name: 'spanstat_recommendation_info',
    type: 'gauge',
    unit: '',
    help: `Always 1: the title and action text of an active recommendation, refreshed at most every ${INFO_TEXT_HOLD_MS / 60_000} minutes (its numbers change; the API has the live text)`,
    labels: ['service', 'id', 'title', 'action'],
  },
  spansReceived: {
    name: 'spanstat_sidecar_spans_received_total',
    type: 'counter',
    unit: '',
    help: 'Spans accepted by the OTLP receiver',
    labels: [],
  },
  spansRejected: {
    name: 'spanstat_sidecar_spans_rejected_total',
    type: 'counter',
    unit: '',
    help: 'Decoded spans the receiver could not hand to the pipeline (answered 5xx); the exporter was told so',
    labels: [],
  },
  otlpRequestsRefused: {
    name: 'spanstat_sidecar_otlp_requests_refused_total',
    type: 'counter',
    unit: '',
    help: 'OTLP requests refused before decoding: overloaded (503), too_large (413), unsupported_media (415)',
    labels: ['reason'],
  },
  spansDropped: {
    name: 'spanstat_sidecar_spans_dropped_total',
    type: 'counter',
    unit: '',
    help: 'Spans accepted but not fully processed (queue or per-trace caps, times no span has); counted but lost to reports',
    labels: [],
  },
  preloadSpansLost: {
    name: 'spanstat_preload_spans_lost_total',
    type: 'counter',
    unit: '',
    help: "Spans the apps' spanstat preload lost before sending (queue full, exports refused or failed), as its later requests reported; the reports undercount by as much",
    labels: ['service'],
  },
  doubleTracedSpans: {
    name: 'spanstat_sidecar_double_traced_spans_total',
    type: 'counter',
    unit: '',
    help: "Spans an app's own OpenTelemetry SDK sent from a process the spanstat preload also traces (same service, host and pid): requests, PostgreSQL, Redis and pool spans set aside, the preload's copies count; drop one of the two",
    labels: ['service'],
  },
  forwardedSpans: {
    name: 'spanstat_sidecar_forwarded_spans_total',
    type: 'counter',
    unit: '',
    help: 'Spans of accepted OTLP bodies relayed to forward.endpoint, by outcome (absent when not forwarding)',
    labels: ['outcome'],
  },
  // Metrics and logs are relayed only, and counted in their own units (the OpenTelemetry Collector's
  // exporters count metric points and log records apart from spans alike), not as a `signal` of the
  // spans counter: a sum over its labels would add spans to data points.
  forwardedDataPoints: {
    name: 'spanstat_sidecar_forwarded_metric_points_total',
    type: 'counter',
    unit: '',
    help: "Data points of the apps' OTLP metrics exports relayed to forward.endpoint (spanstat relays metrics, never reads them), by outcome (absent when not forwarding)",
    labels: ['outcome'],
  },
  forwardedLogRecords: {
    name: 'spanstat_sidecar_forwarded_log_records_total',
    type: 'counter',
    unit: '',
    help: "Log records of the apps' OTLP logs exports relayed to forward.endpoint (spanstat relays logs, never reads them), by outcome (absent when not forwarding)",
    labels: ['outcome'],
  },
  decodeErrors: {
    name: 'spanstat_sidecar_decode_errors_total',
    type: 'counter',
    unit: '',
    help: 'OTLP request bodies that could not be decoded (answered 400)',
    labels: [],
  },
  queueDepth: {
    name: 'spanstat_sidecar_queue_depth',
    type: 'gauge',
    unit: '',
    help: 'Spans decoded and waiting to be processed',
    labels: [],
  },
  openTraces: {
    name: 'spanstat_sidecar_open_traces',
    type: 'gauge',
    unit: '',
    help: 'Traces held open for request assembly',
    labels: [],
  },
  memory: {
    name: 'spanstat_sidecar_memory_bytes',
    type: 'gauge',
    unit: 'bytes',
    help: 'Memory of the sidecar process (process.memoryUsage)',
    labels: ['area'],
  },
  seriesOverflow: {
    name: 'spanstat_sidecar_metric_overflow_total',
    type: 'counter',
    unit: '',
    help: "Observations recorded in a metric's __overflow__ series because it hit metrics.maxSeriesPerMetric",
    labels: ['metric'],
  },
  serviceVersionInfo: {
    name: 'spanstat_service_version_info',
    type: 'gauge',
    unit: '',
    help: 'Always 1: a service.version a service ran in the last 5 minutes (two during a rolling deploy); a new series marks a deploy',
    labels: ['service', 'serviceVersion'],
  },
  buildInfo: {
    name: 'spanstat_build_info',
    type: 'gauge',
    unit: '',
    help: 'Always 1: the running spanstat version',
    labels: ['version'],
  },
} as const satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof METRICS;

/** Every series name a metric exposes: histograms add _bucket, _sum and _count. */
export function seriesNames(def: MetricDef): string[] {
  if (def.type !== 'histogram') return [def.name];
  return [def.name, `${def.name}_bucket`, `${def.name}_sum`, `${def.name}_count`];
}

/** All exposed series names, for checks of PromQL in alerts and dashboards. */
export function allSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const def of Object.values(METRICS) as MetricDef[]) for (const n of seriesNames(def)) names.add(n);
  return names;
}

/** Prometheus label names of a metric, in declaration order. */
export function labelNames(def: MetricDef): string[] {
  return def.labels.map((key) => LABELS[key].name);
}
