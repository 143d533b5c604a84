/** Report rows served by the JSON API, printed by `spanstat report`, read by the advisor and metrics. */
export type WindowName = 'all' | '1m' | '5m' | '15m';
export const WINDOWS: readonly WindowName[] = ['all', '1m', '5m', '15m'];

export interface EndpointShare {
  /** `GET /users/:id` */
  endpoint: string;
  calls: number;
}

export interface QueryRow {
  service: string;
  system: string;
  fingerprint: string;
  /** Normalized statement ($1 placeholders); `(other)` on the overflow row. */
  statement: string;
  operation: string;
  table: string;
  calls: number;
  errors: number;
  totalMs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** totalMs / all DB time of the service in the window, 0..1. */
  shareOfDbTime: number;
  topEndpoints: EndpointShare[];
  exampleTraceId: string;
  /** Largest number of calls of this fingerprint within one request. */
  maxCallsPerRequest: number;
}

export interface CacheRow {
  service: string;
  system: string;
  namespace: string;
  hits: number;
  misses: number;
  /** hits / (hits + misses), null when no read reported a result. */
  hitRate: number | null;
  reads: number;
  writes: number;
  /** All commands on the namespace. */
  calls: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Commands seen, by name, with counts. */
  commands: Record<string, number>;
  /** TTLs (seconds) set by writes: min/max observed, null when none. */
  minTtlSeconds: number | null;
  maxTtlSeconds: number | null;
  /**
   * Writes that left their key without an expiry: SET without EX/PX/EXAT/PXAT/KEEPTTL (which also
   * clears a TTL the key had), MSET, SETNX, GETSET, PERSIST (marked by spanstat's preload).
   */
  noExpiryWrites: number;
  /** Structure writes (HSET, SADD, LPUSH, INCR, …) that set no TTL themselves; an existing key keeps its own. */
  untimedWrites: number;
  /** (noExpiryWrites + untimedWrites) per minute of the window. */
  noExpiryWritesPerMin: number;
  /** Writes and expiry commands that set a TTL (SET … EX, SETEX, EXPIRE, GETEX EX, …). */
  expirySets: number;
  topEndpoints: EndpointShare[];
}

/** What the endpoint and service reports say of a set of requests (or job runs). */
export interface RequestFigures {
  requests: number;
  errors: number;
  /** 0..1 */
  errorRate: number;
  /** Requests with a 5xx status. */
  serverErrors: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  dbMsPerRequest: number;
  cacheMsPerRequest: number;
  otherMsPerRequest: number;
  poolWaitMsPerRequest: number;
  queriesPerRequest: number;
  cacheOpsPerRequest: number;
  /** The slowest one's trace. */
  exampleTraceId: string;
}

export interface EndpointRow extends RequestFigures {
  service: string;
  method: string;
  route: string;
}

/**
 * One service's requests (or its job and consumer runs, `kind: 'jobs'`) over every route: where its time
 * goes, at a glance. The shares split the units' summed duration as each request's time split does.
 */
export interface ServiceRow extends RequestFigures {
  service: string;
  /** `requests`: HTTP requests; `jobs`: `runJob` runs and CONSUMER spans (the endpoint report's JOB/CONSUMER rows). */
  kind: 'requests' | 'jobs';
  /** Endpoint rows (routes, or job names) the units are spread over. */
  routes: number;
  /** Shares (0..1) of the summed duration spent in database calls, cache calls, pool waits and the rest. */
  dbShare: number;
  cacheShare: number;
  poolWaitShare: number;
  otherShare: number;
}

/**
 * Per-request use of one fingerprint by one endpoint: the N+1 report. Means are over the
 * requests that ran the statement at least once.
 */
export interface EndpointQueryRow {
  service: string;
  method: string;
  route: string;
  fingerprint: string;
  /** Normalized statement; `(other)` on the overflow row, '' when the query row is unknown. */
  statement: string;
  /** Requests to the endpoint in the window (on the overflow row: requestsWithQuery). */
  requests: number;
  requestsWithQuery: number;
  /** Calls of the statement from the endpoint. */
  calls: number;
  meanCallsPerRequest: number;
  maxCallsPerRequest: number;
  /** Requests with at least nPlusOneMinCalls calls (default 5). */
  requestsOverThreshold: number;
  /** Time in the statement's calls within those requests. */
  overThresholdMs: number;
  totalMs: number;
  /** totalMs / requestsWithQuery. */
  msPerRequest: number;
  /** Request with the most calls. */
  exampleTraceId: string;
}

/** Per-request use of one cache namespace by one endpoint (many single-key reads hint at MGET). */
export interface EndpointCacheRow {
  service: string;
  method: string;
  route: string;
  namespace: string;
  requests: number;
  requestsWithOps: number;
  ops: number;
  meanOpsPerRequest: number;
  maxOpsPerRequest: number;
  /** Single-key reads (GET-like) per request that used the namespace. */
  singleReadsPerRequest: number;
  /** Requests with at least singleReadsMinCalls (default nPlusOneMinCalls) single-key reads of the namespace. */
  requestsOverThreshold: number;
  overThresholdMs: number;
  totalMs: number;
  msPerRequest: number;
  exampleTraceId: string;
}

/** Connection-pool waits and peak use per pool of a service (pg-pool.connect / postgres.pool.wait and pg-pool.usage / postgres.pool.usage spans). */
export interface PoolRow {
  service: string;
  system: string;
  /**
   * The pool (`db.client.connection.pool.name`: `host:port/database` from the preload, followed by
   * ` (name)` when the pool sets its own `application_name`); '' for spans that name no pool (older
   * preloads, other instrumentations), which share one row per service and system; `(other)` on an
   * overflow row.
   */
  pool: string;
  connects: number;
  errors: number;
  totalWaitMs: number;
  meanWaitMs: number;
  p50WaitMs: number;
  p95WaitMs: number;
  p99WaitMs: number;
  maxWaitMs: number;
  /** Largest clients-in-use seen at a connect (`spanstat.pool.in_use`); null when never sent. */
  maxInUse: number | null;
  /** Pool size (`spanstat.pool.max`); null when never sent. */
  poolMax: number | null;
  /** maxInUse / poolMax, 0..1; null when either is unknown. */
  maxInUseRatio: number | null;
  /** Connects that found every client in use. */
  saturatedConnects: number;
  /**
   * Most checkouts (or postgres.js queries) waiting for a connection at once, from the usage samples;
   * null when none said (another SDK, an older preload).
   */
  maxWaiting: number | null;
  /** Connect with the longest wait. */
  exampleTraceId: string;
}

export interface ReportQuery {
  service?: string;
  window: WindowName;
  sort?: string;
  limit?: number;
}

export interface Report<Row> {
  window: WindowName;
  /** Start of the data the window covers (ms since epoch). */
  fromMs: number;
  toMs: number;
  rows: Row[];
  /** Rows before `limit` was applied. */
  totalRows: number;
}
