/** Report-row builders for the advisor's unit tests: healthy defaults, override what a test is about. */

import type { ExistingIndex, TableDecision, TableInfo } from '../../src/advise/index-plan';
import type { AdvisorInput, AdvisorThresholds, IndexFinding, PlanEvidence } from '../../src/advise/types';
import { DEFAULTS } from '../../src/config/defaults';
import type {
  CacheRow,
  EndpointCacheRow,
  EndpointQueryRow,
  EndpointRow,
  PoolRow,
  QueryRow,
} from '../../src/reports/types';

export const SERVICE = 'svc';

export function thresholds(overrides: Partial<AdvisorThresholds> = {}): AdvisorThresholds {
  const a = DEFAULTS.advisor;
  return {
    nPlusOne: { ...a.nPlusOne },
    slowQuery: { ...a.slowQuery },
    topConsumer: { ...a.topConsumer },
    missingIndex: { ...a.missingIndex },
    cache: { ...a.cache },
    endpoint: { ...a.endpoint, routeSloMs: {} },
    pool: { ...a.pool },
    deploy: { ...a.deploy },
    lockMinSamples: a.lockMinSamples,
    idleInTransactionMs: a.idleInTransactionMs,
    clearMargin: a.clearMargin,
    ...overrides,
  };
}

export function input(parts: Partial<AdvisorInput> = {}): AdvisorInput {
  return {
    queries: [],
    cache: [],
    endpoints: [],
    endpointQueries: [],
    endpointCache: [],
    pools: [],
    ...parts,
  };
}

export function queryRow(o: Partial<QueryRow> = {}): QueryRow {
  return {
    service: SERVICE,
    system: 'postgresql',
    fingerprint: 'fp1',
    statement: 'SELECT * FROM items WHERE order_id = $1',
    operation: 'SELECT',
    table: 'items',
    calls: 100,
    errors: 0,
    totalMs: 200,
    meanMs: 2,
    p50Ms: 1.5,
    p95Ms: 5,
    p99Ms: 8,
    maxMs: 12,
    shareOfDbTime: 0.1,
    topEndpoints: [{ endpoint: 'GET /orders/:id', calls: 100 }],
    exampleTraceId: 'trace-q',
    maxCallsPerRequest: 1,
    ...o,
  };
}

export function endpointRow(o: Partial<EndpointRow> = {}): EndpointRow {
  return {
    service: SERVICE,
    method: 'GET',
    route: '/orders/:id',
    requests: 100,
    errors: 0,
    errorRate: 0,
    serverErrors: 0,
    rps: 1,
    p50Ms: 20,
    p95Ms: 50,
    p99Ms: 80,
    maxMs: 100,
    dbMsPerRequest: 10,
    cacheMsPerRequest: 2,
    otherMsPerRequest: 13,
    poolWaitMsPerRequest: 0,
    queriesPerRequest: 2,
    cacheOpsPerRequest: 1,
    exampleTraceId: 'trace-e',
    ...o,
  };
}

export function endpointQueryRow(o: Partial<EndpointQueryRow> = {}): EndpointQueryRow {
  return {
    service: SERVICE,
    method: 'GET',
    route: '/orders/:id',
    fingerprint: 'fp1',
    statement: 'SELECT * FROM items WHERE order_id = $1',
    requests: 100,
    requestsWithQuery: 100,
    calls: 100,
    meanCallsPerRequest: 1,
    maxCallsPerRequest: 1,
    requestsOverThreshold: 0,
    overThresholdMs: 0,
    totalMs: 200,
    msPerRequest: 2,
    exampleTraceId: 'trace-n',
    ...o,
  };
}

export function cacheRow(o: Partial<CacheRow> = {}): CacheRow {
  return {
    service: SERVICE,
    system: 'redis',
    namespace: 'user:*',
    hits: 900,
    misses: 100,
    hitRate: 0.9,
    reads: 1000,
    writes: 100,
    calls: 1100,
    errors: 0,
    p50Ms: 0.3,
    p99Ms: 1,
    commands: { get: 1000, set: 100 },
    minTtlSeconds: 3600,
    maxTtlSeconds: 3600,
    noExpiryWrites: 0,
    untimedWrites: 0,
    noExpiryWritesPerMin: 0,
    expirySets: 100,
    topEndpoints: [{ endpoint: 'GET /users/:id', calls: 1000 }],
    ...o,
  };
}

export function endpointCacheRow(o: Partial<EndpointCacheRow> = {}): EndpointCacheRow {
  return {
    service: SERVICE,
    method: 'GET',
    route: '/feed',
    namespace: 'post:*',
    requests: 100,
    requestsWithOps: 100,
    ops: 200,
    meanOpsPerRequest: 2,
    maxOpsPerRequest: 2,
    singleReadsPerRequest: 2,
    requestsOverThreshold: 0,
    overThresholdMs: 0,
    totalMs: 60,
    msPerRequest: 0.6,
    exampleTraceId: 'trace-c',
    ...o,
  };
}

export function poolRow(o: Partial<PoolRow> = {}): PoolRow {
  return {
    service: SERVICE,
    system: 'postgresql',
    pool: '',
    connects: 500,
    errors: 0,
    totalWaitMs: 100,
    meanWaitMs: 0.2,
    p50WaitMs: 0.1,
    p95WaitMs: 0.5,
    p99WaitMs: 1,
    maxWaitMs: 3,
    maxInUse: 4,
    poolMax: 10,
    maxInUseRatio: 0.4,
    saturatedConnects: 0,
    maxWaiting: null,
    exampleTraceId: 'trace-p',
    ...o,
  };
}

/** Index planning limits of the index tests: tables from 500 rows, up to 3 key columns. */
export const indexLimits = { minTableRows: 500, maxColumns: 3 };

/** A generic plan that reads `table` with a Seq Scan. */
export function seqScanPlan(table: string): PlanEvidence {
  return { method: 'prepared-generic-plan', seqScan: true, totalCost: 3000, shape: `Seq Scan on ${table}` };
}

/** A plain valid btree index (unique when named `*_pkey`). */
export function btreeIndex(name: string, columns: string[]): ExistingIndex {
  return { name, columns, unique: name.endsWith('_pkey'), method: 'btree', partial: false, valid: true };
}

/** A checked finding for `row` holding the proposals among `decisions`. */
export function findingOf(row: QueryRow, decisions: TableDecision[]): IndexFinding {
  return {
    service: row.service,
    fingerprint: row.fingerprint,
    columns: [],
    checked: true,
    proposals: decisions.flatMap((d) => ('proposal' in d ? [d.proposal] : [])),
    skipped: [],
  };
}

/** `people` with 100k rows and a primary key; `o` overrides. */
export function peopleTable(columns: string[], o: Partial<TableInfo> = {}): TableInfo {
  return {
    schema: 'public',
    name: 'people',
    relkind: 'r',
    rows: 100_000,
    columns: new Set(['id', ...columns]),
    stats: new Map(),
    indexes: [btreeIndex('people_pkey', ['id'])],
    ...o,
  };
}
