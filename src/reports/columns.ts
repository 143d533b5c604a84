/** Column sets `spanstat report` prints per report (the JSON API returns every field). */
import type { Column } from './format-table';
import type {
  CacheRow,
  EndpointCacheRow,
  EndpointQueryRow,
  EndpointRow,
  EndpointShare,
  PoolRow,
  QueryRow,
  RequestFigures,
  ServiceRow,
} from './types';

/** 0.12 → `0.12`, 12.3 → `12.3`, 1234.5 → `1235`: about three significant digits. */
export function formatMs(v: unknown): string {
  if (typeof v !== 'number') return '-';
  return v.toFixed(v < 10 ? 2 : v < 1000 ? 1 : 0);
}

/** 0..1 → `87.5%`; null → `-`. */
export function formatPercent(v: unknown): string {
  return typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '-';
}

function formatRate(v: unknown): string {
  return typeof v === 'number' ? v.toFixed(v < 10 ? 2 : 1) : '-';
}

function formatTop(v: unknown): string {
  const top = v as EndpointShare[];
  return top.length === 0 ? '-' : `${top[0].endpoint}${top.length > 1 ? ` +${top.length - 1}` : ''}`;
}

const STATEMENT_WIDTH = 70;

/** Prepend to any set when the report spans several services (collector mode). */
export function withService<R extends { service: string }>(columns: readonly Column<R>[]): Column<R>[] {
  return [{ key: 'service', title: 'SERVICE', maxWidth: 24 }, ...columns];
}

export const QUERY_COLUMNS: readonly Column<QueryRow>[] = [
  { key: 'totalMs', title: 'TOTAL ms', format: formatMs },
  { key: 'shareOfDbTime', title: 'DB%', format: formatPercent },
  { key: 'calls', title: 'CALLS' },
  { key: 'meanMs', title: 'MEAN ms', format: formatMs },
  { key: 'p95Ms', title: 'P95 ms', format: formatMs },
  { key: 'p99Ms', title: 'P99 ms', format: formatMs },
  { key: 'errors', title: 'ERR' },
  { key: 'maxCallsPerRequest', title: 'MAX/REQ' },
  { key: 'topEndpoints', title: 'TOP ENDPOINT', format: formatTop, maxWidth: 32 },
  { key: 'statement', title: 'STATEMENT', maxWidth: STATEMENT_WIDTH },
];

export const CACHE_COLUMNS: readonly Column<CacheRow>[] = [
  { key: 'system', title: 'SYSTEM' },
  { key: 'namespace', title: 'NAMESPACE', maxWidth: 40 },
  { key: 'reads', title: 'READS' },
  { key: 'hitRate', title: 'HIT%', format: formatPercent, align: 'right' },
  { key: 'misses', title: 'MISSES' },
  { key: 'writes', title: 'WRITES' },
  { key: 'p50Ms', title: 'P50 ms', format: formatMs },
  { key: 'p99Ms', title: 'P99 ms', format: formatMs },
  { key: 'minTtlSeconds', title: 'MIN TTL s', align: 'right' },
  { key: 'maxTtlSeconds', title: 'MAX TTL s', align: 'right' },
  { key: 'noExpiryWritesPerMin', title: 'NO-TTL W/min', format: formatRate },
  { key: 'topEndpoints', title: 'TOP ENDPOINT', format: formatTop, maxWidth: 32 },
];

/** Count, rate, errors and percentiles: the endpoint and service tables' common columns. */
function requestColumns<R extends RequestFigures>(): Column<R>[] {
  return [
    { key: 'requests', title: 'REQS' },
    { key: 'rps', title: 'RPS', format: formatRate },
    { key: 'errorRate', title: 'ERR%', format: formatPercent },
    { key: 'p50Ms', title: 'P50 ms', format: formatMs },
    { key: 'p95Ms', title: 'P95 ms', format: formatMs },
    { key: 'p99Ms', title: 'P99 ms', format: formatMs },
  ];
}

export const SERVICE_COLUMNS: readonly Column<ServiceRow>[] = [
  { key: 'kind', title: 'KIND' },
  { key: 'routes', title: 'ROUTES' },
  ...requestColumns<ServiceRow>(),
  { key: 'dbShare', title: 'DB%', format: formatPercent },
  { key: 'cacheShare', title: 'CACHE%', format: formatPercent },
  { key: 'poolWaitShare', title: 'POOL%', format: formatPercent },
  { key: 'otherShare', title: 'OTHER%', format: formatPercent },
  { key: 'queriesPerRequest', title: 'Q/REQ', format: formatRate },
];

export const ENDPOINT_COLUMNS: readonly Column<EndpointRow>[] = [
  { key: 'method', title: 'METHOD' },
  { key: 'route', title: 'ROUTE', maxWidth: 48 },
  ...requestColumns<EndpointRow>(),
  { key: 'dbMsPerRequest', title: 'DB ms/req', format: formatMs },
  { key: 'cacheMsPerRequest', title: 'CACHE ms/req', format: formatMs },
  { key: 'otherMsPerRequest', title: 'OTHER ms/req', format: formatMs },
  { key: 'queriesPerRequest', title: 'Q/REQ', format: formatRate },
];

export const ENDPOINT_QUERY_COLUMNS: readonly Column<EndpointQueryRow>[] = [
  { key: 'method', title: 'METHOD' },
  { key: 'route', title: 'ROUTE', maxWidth: 40 },
  { key: 'requestsOverThreshold', title: 'N+1 REQS' },
  { key: 'requestsWithQuery', title: 'REQS W/ Q' },
  { key: 'meanCallsPerRequest', title: 'CALLS/REQ', format: formatRate },
  { key: 'maxCallsPerRequest', title: 'MAX/REQ' },
  { key: 'msPerRequest', title: 'ms/REQ', format: formatMs },
  { key: 'statement', title: 'STATEMENT', maxWidth: STATEMENT_WIDTH },
];

export const ENDPOINT_CACHE_COLUMNS: readonly Column<EndpointCacheRow>[] = [
  { key: 'method', title: 'METHOD' },
  { key: 'route', title: 'ROUTE', maxWidth: 40 },
  { key: 'namespace', title: 'NAMESPACE', maxWidth: 40 },
  { key: 'requestsOverThreshold', title: 'MANY-GET REQS' },
  { key: 'requestsWithOps', title: 'REQS W/ OPS' },
  { key: 'meanOpsPerRequest', title: 'OPS/REQ', format: formatRate },
  { key: 'singleReadsPerRequest', title: 'GETS/REQ', format: formatRate },
  { key: 'maxOpsPerRequest', title: 'MAX/REQ' },
  { key: 'msPerRequest', title: 'ms/REQ', format: formatMs },
];

export const POOL_COLUMNS: readonly Column<PoolRow>[] = [
  { key: 'system', title: 'SYSTEM' },
  // '' is the pool of spans that name none (older preloads, other instrumentations).
  { key: 'pool', title: 'POOL', maxWidth: 48, format: (v) => (v === '' ? '-' : String(v)) },
  { key: 'connects', title: 'CONNECTS' },
  { key: 'totalWaitMs', title: 'WAIT ms', format: formatMs },
  { key: 'p95WaitMs', title: 'P95 ms', format: formatMs },
  { key: 'p99WaitMs', title: 'P99 ms', format: formatMs },
  { key: 'maxWaitMs', title: 'MAX ms', format: formatMs },
  { key: 'maxInUse', title: 'IN USE', align: 'right' },
  { key: 'poolMax', title: 'SIZE', align: 'right' },
  { key: 'saturatedConnects', title: 'SATURATED' },
  { key: 'maxWaiting', title: 'WAITING', align: 'right' },
];
