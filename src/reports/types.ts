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
  topEndpoints: EndpointShare[];
}

export interface EndpointRow {
  service: string;
  method: string;
  route: string;
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
