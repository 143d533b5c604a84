/**
 * Every configuration default, in one place, with its unit. The YAML file, SPANSTAT_* variables
 * and the CLI override these; nothing else in the code base holds a default of its own.
 */
export const DEFAULTS = {
  /** `sidecar` serves one service; `collector` many (only changes labelling defaults). */
  mode: 'sidecar' as 'sidecar' | 'collector',
  receiver: {
    host: '127.0.0.1',
    /** OTLP/HTTP standard port. */
    port: 4318,
    /** 16 MiB: larger bodies get 413. Well above a 512-span batch (~180 KiB). */
    maxBodyBytes: 16 * 1024 * 1024,
    /** Spans decoded but not yet processed; above this the receiver answers 503 + Retry-After. */
    maxPendingSpans: 200_000,
    /** Seconds a refused exporter is told to wait. */
    retryAfterSeconds: 1,
  },
  api: {
    host: '127.0.0.1',
    /** API, report page and /metrics share one port. */
    port: 9464,
  },
  assembly: {
    /** A trace is summarised this long after its last span arrived (ms). */
    idleMs: 1_500,
    /** Traces held open at once; the oldest is summarised early beyond this. */
    maxOpenTraces: 20_000,
    /** Spans kept per open trace; later ones still count in span-level reports. */
    maxSpansPerTrace: 1_000,
  },
  aggregation: {
    /** Rows per report (per table, all services together); new keys beyond go to an overflow row. */
    maxQueryRows: 2_000,
    maxCacheRows: 1_000,
    maxEndpointRows: 1_000,
    /** DDSketch relative accuracy: 0.01 = quantiles within 1%. */
    relativeAccuracy: 0.01,
    /** Width of one recent-window bucket (ms); 1m/5m/15m windows are made of these. */
    bucketMs: 60_000,
    /** Endpoints listed per query/namespace row. */
    topEndpoints: 5,
  },
  sql: {
    /** Raw-text → fingerprint cache entries (libpg-query costs 20–70 µs per parse here). */
    cacheEntries: 50_000,
    /** Longest statement text parsed; longer ones go to the fallback normalizer (bytes). */
    maxParseBytes: 64 * 1024,
  },
  redis: {
    /** Characters that separate key segments. */
    delimiters: ':',
    /** Distinct values at one position under one prefix before it becomes `*`. */
    learnDistinct: 8,
    /** Glob patterns (`*` = one segment) that name a namespace directly, checked first. */
    patterns: [] as string[],
    /** Namespaces learned at most (memory bound); beyond this keys map to their first segment. */
    maxLearnedPrefixes: 10_000,
  },
  log: {
    level: 'info' as 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent',
  },
} as const;

export type Defaults = typeof DEFAULTS;
