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
    /**
     * Spans decoded but not yet processed; above this the receiver answers 503 + Retry-After. A decoded span
     * holds ~2 KiB until processed (bench/overload.bench.ts: 200k pending → 600 MB RSS), so 25k bounds the
     * backlog to ~50 MB, a quarter second of ingest at 100k spans/s.
     */
    maxPendingSpans: 25_000,
    /** Seconds a refused exporter is told to wait. */
    retryAfterSeconds: 1,
  },
  api: {
    host: '127.0.0.1',
    /** API, report page and /metrics share one port. */
    port: 9464,
  },
  assembly: {
    /**
     * An open trace is dropped this long after its last span arrived (ms). Must exceed the exporters' batch
     * interval (OTel's BatchSpanProcessor default is 5 s): a request's DB spans may come one batch before it.
     */
    idleMs: 6_000,
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
    /**
     * Id parts of identifiers shown as `*` (`tenant_42.orders` → `tenant_*.orders`, src/sql/identifier-ids.ts):
     * one row per statement, not per tenant schema or dated table, and no tenant id in any output.
     */
    templateIds: true,
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
  http: {
    /**
     * Route templates (`/users/:name`; `:param` and `*` one segment, `**` the rest) naming requests
     * that carry no `http.route` (or the preload's `(middleware)` / `(static)`: an Express app's
     * request no route answered), tried in order before the path's ids are replaced by `:id`.
     */
    routes: [] as string[],
    /**
     * Distinct GraphQL operations per service and route that get an endpoint row of their own
     * (`POST /graphql (query GetOrders)`); later ones share `(other operation)`, and the last half
     * of the rows go only to operations seen twice. Operation names are chosen by clients: this bounds
     * the rows and the metrics' route label whatever they send.
     */
    graphqlOperationsPerRoute: 100,
    /**
     * Distinct tRPC procedures per service and route with an endpoint row of their own
     * (`GET /trpc (query orders.list)`), bounded as GraphQL operations are. The preload names only
     * procedures the app's router has; the bound is for other senders.
     */
    trpcProceduresPerRoute: 100,
  },
  advisor: {
    enabled: true,
    /** Seconds between evaluations of the reports. */
    intervalSeconds: 30,
    /** Report window the rules read; a recommendation resolves once its condition is absent from it. */
    window: '5m' as '1m' | '5m' | '15m' | 'all',
    /** Recommendations kept (active + resolved); the oldest resolved go first. */
    maxRecommendations: 1_000,
    /** Resolved recommendations are forgotten after this long (s). */
    resolvedRetentionSeconds: 24 * 3600,
    /** An active recommendation whose target saw no traffic for this long resolves (s). */
    unobservedResolveSeconds: 15 * 60,
    /**
     * Hysteresis (0..1): a raised recommendation on a threshold figure (cache miss rate, 5xx rate,
     * p95 against an SLO or the slow-query line, pool waits) clears only once the figure is this much
     * better than its threshold, relative to it, and a critical one turns warning only once the figure
     * is this much under the critical line. 0.1 as Kubernetes' HPA tolerance: window figures move a
     * few percent between evaluations, so a figure hovering at its line would otherwise open and
     * resolve the recommendation (and its spanstat_recommendation series) every interval.
     */
    clearMargin: 0.1,
    /** Read-only PostgreSQL URL for index advice; empty = no look-ups (env SPANSTAT_ADVISOR_POSTGRES_URL). */
    postgresUrl: '',
    /**
     * Collector mode with services on several databases: `[{ url, services: [...] }]` — those services'
     * index advice and lock sampling read that database; the others read postgresUrl.
     */
    databases: [] as { url: string; services: string[] }[],
    /** Per look-up statement_timeout and overall timeout of one fingerprint's check (ms). */
    postgresTimeoutMs: 2_000,
    /** Index checks are cached per fingerprint this long (s). */
    indexCacheSeconds: 60,
    /** Fingerprints checked against the database per evaluation at most. */
    maxIndexChecks: 20,
    /**
     * With postgresUrl: pg_stat_activity is sampled this often for sessions waiting on locks and
     * idle in transaction (ms); 0 = no sampling. Waits shorter than this are mostly missed.
     */
    lockSampleMs: 1_000,
    /** Samples a slow statement must be seen waiting on a lock in before its advice is about locks. */
    lockMinSamples: 2,
    /** A session idle in transaction this long is reported (ms). */
    idleInTransactionMs: 10_000,
    nPlusOne: {
      /** Sentry: ≥5 repeats of one statement in a request… */
      minRepeats: 5,
      /** …taking ≥50 ms together (ms) is a warning; cheaper repeats are reported as info. */
      minTotalMs: 50,
      /** Requests in the window that must show the pattern before it is reported. */
      minAffectedRequests: 3,
    },
    slowQuery: {
      /** p95 at or above this is slow (ms): half the default endpoint SLO in one statement. */
      p95Ms: 100,
      /** Sentry's and perf-sentinel's slow-query line (ms): critical from here. */
      criticalP95Ms: 500,
      /** Calls in the window before a p95 is trusted (perf-sentinel: 3; PgHero: 100 over days). */
      minCalls: 10,
    },
    topConsumer: {
      /** Share of the service's DB time (0..1). */
      minShare: 0.3,
      /** And at least this much DB time in the window (ms), so an idle service is not flagged. */
      minTotalMs: 1_000,
      minCalls: 10,
    },
    missingIndex: {
      /** PgHero: no index advice under 500 rows. */
      minTableRows: 500,
      /** PgHero: statements with mean ≥20 ms (and minCalls) are checked even when not slow (ms). */
      minMeanMs: 20,
      minCalls: 10,
      /** Columns in one proposed index at most. */
      maxColumns: 3,
    },
    cache: {
      /** Seeds: hit rate under 60–80% is a problem; 0..1. */
      targetHitRate: 0.8,
      /** Reads with a known result in the window before a hit rate is judged. */
      minReads: 100,
      /** TTLs at or under this (s) are named as the likely cause of misses. */
      shortTtlSeconds: 60,
      /** Single-key reads of one namespace in one request that an MGET/pipeline would merge. */
      minSingleReadsPerRequest: 5,
      minAffectedRequests: 3,
      /**
       * Writes that leave a key of an id-bearing namespace (`session:*`) without an expiry, in the
       * window, before the namespace is judged to pile up keys.
       */
      minNoExpiryWrites: 20,
      /**
       * DEL/UNLINK/GETDEL per such write at or over which the keys count as removed after use (a
       * one-time token, a lock), not piling up; 0..1.
       */
      deletesPerWriteExempt: 0.5,
    },
    endpoint: {
      /** Seeds: p95 over 200 ms is slow (ms); HTTP requests only — a job or consumer needs a routeSloMs entry. */
      sloMs: 200,
      /** Per-route SLOs, e.g. `{ 'GET /reports/:id': 1000 }`; jobs and consumers too: `{ 'JOB send-digest': 30000 }` (ms). */
      routeSloMs: {} as Record<string, number>,
      /** Requests in the window before a p95 or an error rate is judged. */
      minRequests: 20,
      /** Seeds: 5xx rate ≥2% (0..1). */
      maxServerErrorRate: 0.02,
    },
    deploy: {
      /**
       * Width of the window a version's figures are read over (s): each version's last one to two such
       * windows of traffic, so a regression fixed under load reads as fixed within two.
       */
      windowSeconds: 300,
      /** Requests of a route each version must have served in its window before the two are compared. */
      minRequests: 30,
      /** A route's p95 at least this many times the baseline version's… */
      latencyRatio: 1.5,
      /** …and at least this much slower (ms) regressed; twice the ratio is critical. */
      minLatencyDeltaMs: 20,
      /** Queries per request at least this many times the baseline's… */
      queriesRatio: 1.5,
      /** …and at least this many more regressed (a warning from advisor.nPlusOne.minRepeats more, else info). */
      minQueriesDelta: 2,
      /** The 5xx (or failed-run) rate up by this much (0..1) regressed; five times it is critical. */
      errorRateDelta: 0.02,
      /**
       * After this long (min) a version's figures are its service's normal: its comparison ends (what it
       * raised resolves) and it is the baseline of the next deploy; the ordinary rules apply throughout.
       */
      settleMinutes: 60,
    },
    pool: {
      /** Waiting this long for a pooled connection at p95 is saturation (ms). */
      waitP95Ms: 20,
      /** Or this share of request time spent waiting (0..1). */
      waitShare: 0.1,
      /** Seeds: connections in use over 80% of the pool size (0..1). */
      inUseRatio: 0.8,
      /** Pool connects in the window before the pool is judged. */
      minConnects: 20,
    },
  },
  forward: {
    /**
     * Where the accepted bodies are relayed to (a tracing backend, an OpenTelemetry Collector): an
     * OTLP/HTTP traces URL, e.g. `http://otel-collector:4318/v1/traces`, or with `protocol: grpc` an
     * OTLP/gRPC address, e.g. `http://otel-collector:4317` (https for TLS); empty = no forwarding.
     */
    endpoint: '',
    /**
     * `http`: OTLP/HTTP, each body in the encoding it arrived in; `grpc`: OTLP/gRPC (JSON bodies are
     * re-encoded as protobuf, which gRPC carries).
     */
    protocol: 'http' as 'http' | 'grpc',
    /** Extra request headers, e.g. `{ authorization: 'Bearer …' }` (env: `k=v,k2=v2`). */
    headers: {} as Record<string, string>,
    /** Bodies waiting to be relayed, in bytes; beyond it new bodies are dropped and counted (16 MiB). */
    maxQueuedBytes: 16 * 1024 * 1024,
    /** One relay attempt's limit (ms); a timeout is retried like a 503. */
    timeoutMs: 10_000,
    /**
     * Protobuf bodies waiting together go as one POST up to this size, before gzip (1 MiB: under the
     * request limits of common OTLP intakes).
     */
    maxBatchBytes: 1024 * 1024,
    /**
     * `gzip` (as the OpenTelemetry Collector's OTLP exporters default to) sends ~7× fewer bytes, at
     * zlib's fastest level, off the event loop; `none` spends no CPU on it.
     */
    compression: 'gzip' as 'none' | 'gzip',
  },
  metrics: {
    /** Serve Prometheus metrics on the API port at /metrics. */
    enabled: true,
    /**
     * Distinct label sets per metric; later ones are recorded in their service's overflow series,
     * whose other unbounded labels read `__overflow__`. 2000 is the OpenTelemetry SDK's own default
     * cardinality limit.
     */
    maxSeriesPerMetric: 2_000,
    /** Longest normalized statement shown on spanstat_db_query_info (characters). */
    maxStatementChars: 200,
  },
  state: {
    /**
     * Where the sidecar keeps what it should not lose on a restart — each service's deploy history and
     * baseline, and the advisor's recommendations (src/sidecar/state-file.ts) — e.g.
     * `/var/lib/spanstat/state.json` on a volume that outlives the sidecar; empty = in memory only (a
     * restarted sidecar starts with no history, so the first deploy after it gets no deploy advice, and
     * with no recommendations, so their series vanish until the advisor finds them again). Its directory
     * must exist; the file is created.
     */
    file: '',
    /** Seconds between saves of a changed state; it is also saved at shutdown. */
    saveIntervalSeconds: 30,
  },
  shutdown: {
    /**
     * On SIGTERM/SIGINT the sidecar stops receiving, processes what it accepted and gives the forward
     * queue its last chance, then exits; past this (ms) it exits anyway (code 1). Under `docker stop`'s
     * 10-s grace and Kubernetes' 30-s terminationGracePeriodSeconds, so the summary line is logged
     * before a SIGKILL. The stages' own graces fit inside it: receivers 2 s, forward queue 2 s.
     */
    timeoutMs: 8_000,
  },
  log: {
    level: 'info' as 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent',
  },
} as const;

export type Defaults = typeof DEFAULTS;
