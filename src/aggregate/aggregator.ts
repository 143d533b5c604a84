/**
 * The aggregation stage: span-level records (DB calls, cache calls, pool connects) as they
 * arrive and request-level summaries once a trace is assembled, into bounded windowed tables.
 * No I/O and no timers: windows follow the injected receive clock, and buckets that left the
 * 15-minute ring are folded into the `all` totals lazily, at most once per bucket width, from
 * inside a record call.
 *
 * Tables and their keys (each capped; new keys beyond the cap go to an overflow row):
 * - queries: (service, fingerprint)                 maxQueryRows
 * - cache: (service␟system, namespace)               maxCacheRows
 * - endpoints: (service, method, route)              maxEndpointRows
 * - queryUses: (service, method, route, fingerprint) maxEndpointQueryRows (default 2 × maxQueryRows)
 * - cacheUses: (service, method, route, namespace)   maxEndpointCacheRows (default 2 × maxCacheRows)
 * - pools: (service␟system, pool name)               maxEndpointRows
 * - senderLoss: (service, sender instance)           DEFAULT_MAX_SENDER_INSTANCES
 */
import type { CacheCall, DbCall, PoolConnect, PoolUsageSample, SenderLoss } from '../model/classified';
import type { RequestSummary } from '../model/request-summary';
import type { WindowName } from '../reports/types';
import { BoundedTable, OVERFLOW_LABEL, type RowFactory } from './bounded-table';
import {
  addCacheCall,
  addOtherNamespaceReads,
  type CacheAcc,
  type CacheState,
  cacheOps,
  newCacheState,
} from './cache-stats';
import {
  addRequest,
  type EndpointAcc,
  type EndpointState,
  endpointOps,
  newEndpointState,
  SEP,
} from './endpoint-stats';
import {
  addPoolConnect,
  addPoolUsage,
  newPoolState,
  type PoolAcc,
  type PoolState,
  poolOps,
} from './pool-stats';
import { addDbCall, newQueryState, type QueryAcc, type QueryState, queryOps } from './query-stats';
import { SenderLossTable } from './sender-loss';
import {
  addFingerprintUse,
  addNamespaceUse,
  newUseState,
  type UseAcc,
  type UseKey,
  type UseState,
  useOps,
} from './use-stats';
import { type AccumulatorOps, Windowed, windowStartMs } from './windowed';

export interface AggregatorOptions {
  maxQueryRows: number;
  maxCacheRows: number;
  maxEndpointRows: number;
  /** DDSketch relative accuracy (0.01 = 1%). */
  relativeAccuracy: number;
  /** Width of one window bucket (ms). */
  bucketMs: number;
  /** Endpoints listed per query/namespace row. */
  topEndpoints: number;
  /** Calls of one fingerprint in one request from which the request counts as N+1 (default 5, Sentry's). */
  nPlusOneMinCalls?: number;
  /** Single-key reads of one namespace in one request from which it counts as over threshold (default nPlusOneMinCalls). */
  singleReadsMinCalls?: number;
  /** Rows of per-(endpoint, fingerprint) use stats (default 2 × maxQueryRows). */
  maxEndpointQueryRows?: number;
  /** Rows of per-(endpoint, namespace) use stats (default 2 × maxCacheRows). */
  maxEndpointCacheRows?: number;
}

export interface WindowRange {
  fromMs: number;
  toMs: number;
}

/** Cache system assumed for a namespace of a request summary when the service sent no cache call. */
const DEFAULT_CACHE_SYSTEM = 'redis';
/** Services whose cache system is remembered (request summaries name namespaces without a system). */
const MAX_REMEMBERED_SERVICES = 1024;
/** Routes whose endpoint keys are memoised (routes are templates, so few; beyond it keys are built each time). */
const MAX_MEMO_ROUTES = 4096;

export class Aggregator {
  readonly queries: BoundedTable<QueryState>;
  readonly cache: BoundedTable<CacheState>;
  readonly endpoints: BoundedTable<EndpointState>;
  readonly queryUses: BoundedTable<UseState>;
  readonly cacheUses: BoundedTable<UseState>;
  readonly pools: BoundedTable<PoolState>;
  /** Spans the senders lost before sending them, per service (not windowed: a running total). */
  readonly senderLoss = new SenderLossTable();
  readonly nPlusOneMinCalls: number;
  readonly singleReadsMinCalls: number;
  readonly topEndpoints: number;
  readonly bucketMs: number;
  /** First record on the receive clock; NaN before any. */
  private firstDataMs = Number.NaN;
  private nextPruneMs = Number.NEGATIVE_INFINITY;
  private readonly cacheSystems = new Map<string, string>();
  private readonly endpointKeys = new Map<string, Map<string, string>>();
  private readonly cacheGroup = new PairKey();
  private readonly poolGroup = new PairKey();
  private readonly useKey: UseKey = { endpoint: undefined as unknown as EndpointState, key: '' };
  private readonly makeQuery: RowFactory<DbCall, QueryState>;
  private readonly makeCache: RowFactory<CacheCall, CacheState>;
  private readonly makeEndpoint: RowFactory<RequestSummary, EndpointState>;
  private readonly makeUse: RowFactory<UseKey, UseState>;
  private readonly makePool: RowFactory<PoolConnect | PoolUsageSample, PoolState>;

  /**
   * `now`: the clock reports and pruning read. `recordNow`: the time records are stamped with (the
   * sidecar passes the pipeline's SliceClock, read once per slice of spans instead of per span).
   */
  constructor(
    opts: AggregatorOptions,
    readonly now: () => number = Date.now,
    private readonly recordNow: () => number = now,
  ) {
    const { relativeAccuracy: acc, bucketMs, topEndpoints } = opts;
    this.bucketMs = bucketMs;
    this.topEndpoints = topEndpoints;
    this.nPlusOneMinCalls = opts.nPlusOneMinCalls ?? 5;
    this.singleReadsMinCalls = opts.singleReadsMinCalls ?? this.nPlusOneMinCalls;
    this.queries = new BoundedTable(opts.maxQueryRows);
    this.cache = new BoundedTable(opts.maxCacheRows);
    this.endpoints = new BoundedTable(opts.maxEndpointRows);
    this.queryUses = new BoundedTable(opts.maxEndpointQueryRows ?? 2 * opts.maxQueryRows);
    this.cacheUses = new BoundedTable(opts.maxEndpointCacheRows ?? 2 * opts.maxCacheRows);
    this.pools = new BoundedTable(opts.maxEndpointRows);
    // Space-saving keeps any endpoint above 1/capacity of the calls: twice the rows shown.
    const topCapacity = 2 * topEndpoints;
    const w = <A>(ops: AccumulatorOps<A>) => new Windowed(ops, bucketMs);
    const q = queryOps(acc, topCapacity);
    const c = cacheOps(acc, topCapacity);
    const e = endpointOps(acc);
    const p = poolOps(acc);
    this.makeQuery = (call, overflow) => newQueryState(call, overflow, w(q));
    this.makeCache = (call, overflow) => {
      // Remembered on row creation only: request summaries name namespaces without a system.
      if (!this.cacheSystems.has(call.service) && this.cacheSystems.size < MAX_REMEMBERED_SERVICES) {
        this.cacheSystems.set(call.service, call.system);
      }
      return newCacheState(call, overflow, w(c));
    };
    this.makeEndpoint = (s, overflow) => newEndpointState(s, overflow, w(e));
    this.makeUse = (key, overflow) => newUseState(key, overflow, w(useOps));
    this.makePool = (call, overflow) => newPoolState(call, overflow, w(p));
  }

  recordDbCall(call: DbCall): void {
    const now = this.tick();
    const row = this.queries.upsert(call.service, call.fingerprint, call.service, call, this.makeQuery);
    addDbCall(row.stats.at(now), call);
  }

  recordCacheCall(call: CacheCall): void {
    const now = this.tick();
    const group = this.cacheGroup.of(call.service, call.system);
    const row = this.cache.upsert(group, call.namespace, call.service, call, this.makeCache);
    addCacheCall(row.stats.at(now), call);
    if (call.otherNamespaceReads !== undefined) {
      for (const reads of call.otherNamespaceReads) {
        const other = this.cache.upsert(
          group,
          reads.namespace,
          call.service,
          { ...call, ...reads },
          this.makeCache,
        );
        addOtherNamespaceReads(other.stats.at(now), reads);
      }
    }
  }

  recordPoolConnect(call: PoolConnect): void {
    const now = this.tick();
    addPoolConnect(this.poolRow(call).stats.at(now), call);
  }

  recordPoolUsage(sample: PoolUsageSample): void {
    const now = this.tick();
    addPoolUsage(this.poolRow(sample).stats.at(now), sample);
  }

  /** The row of one pool of a service: each named pool its own, the unnamed ('') one per system. */
  private poolRow(record: PoolConnect | PoolUsageSample): PoolState {
    const group = this.poolGroup.of(record.service, record.system);
    return this.pools.upsert(group, record.pool, record.service, record, this.makePool);
  }

  recordSenderLoss(service: string, loss: SenderLoss): void {
    this.senderLoss.record(service, loss);
  }

  recordRequest(s: RequestSummary): void {
    const now = this.tick();
    const service = s.service;
    const endpoint = this.endpoints.upsert(
      service,
      this.endpointKey(s.method, s.route),
      service,
      s,
      this.makeEndpoint,
    );
    addRequest(endpoint.stats.at(now), s);
    const label = endpoint.label;
    const useKey = this.useKey;
    useKey.endpoint = endpoint;
    for (const use of s.fingerprints) {
      const query = this.queries.find(service, use.fingerprint, service);
      if (query !== undefined) {
        const acc = query.stats.at(now);
        acc.top.add(label, use.calls);
        if (use.calls > acc.maxCallsPerRequest) acc.maxCallsPerRequest = use.calls;
      }
      useKey.key = use.fingerprint;
      const row = this.queryUses.upsert(endpoint.useGroup, use.fingerprint, service, useKey, this.makeUse);
      addFingerprintUse(row.stats.at(now), use, this.nPlusOneMinCalls, s.traceId);
    }
    if (s.namespaces.length > 0) {
      const group = this.cacheGroup.of(service, this.cacheSystems.get(service) ?? DEFAULT_CACHE_SYSTEM);
      for (const use of s.namespaces) {
        const cache = this.cache.find(group, use.namespace, service);
        if (cache !== undefined) cache.stats.at(now).top.add(label, use.ops);
        useKey.key = use.namespace;
        const row = this.cacheUses.upsert(endpoint.useGroup, use.namespace, service, useKey, this.makeUse);
        addNamespaceUse(row.stats.at(now), use, this.singleReadsMinCalls, s.traceId);
      }
    }
  }

  /**
   * `METHOD route`, the endpoint row key, memoised per (route, method): a fresh concatenation per request
   * was hashed by the table look-up every time (the largest part of recordRequest in a profile of the
   * ingest bench), while route and method strings are reused objects whose hashes V8 keeps.
   */
  private endpointKey(method: string, route: string): string {
    let byMethod = this.endpointKeys.get(route);
    if (byMethod === undefined) {
      if (this.endpointKeys.size >= MAX_MEMO_ROUTES) return `${method} ${route}`;
      byMethod = new Map();
      this.endpointKeys.set(route, byMethod);
    }
    let key = byMethod.get(method);
    if (key === undefined) {
      key = `${method} ${route}`;
      byMethod.set(method, key);
    }
    return key;
  }

  /**
   * The namespace learner widened `from` into `to` (e.g. `user:42` → `user:*`): fold every row
   * of `from` for the service (all cache systems, all endpoints) into the `to` row, renaming it
   * when `to` has none yet.
   */
  mergeNamespace(service: string, from: string, to: string): void {
    if (from === to) return;
    for (const group of [...this.cache.groupNames()]) {
      const row = this.cache.get(group, from);
      if (row === undefined || row.service !== service) continue;
      const target = this.cache.get(group, to);
      if (target === undefined) {
        this.cache.rekey(group, from, to);
        row.namespace = to;
      } else {
        target.stats.absorb(row.stats);
        this.cache.delete(group, from);
      }
    }
    for (const group of [...this.cacheUses.groupNames()]) {
      const row = this.cacheUses.get(group, from);
      if (row === undefined || row.service !== service) continue;
      const target = this.cacheUses.get(group, to);
      if (target === undefined) {
        this.cacheUses.rekey(group, from, to);
        row.key = to;
      } else {
        target.stats.absorb(row.stats);
        this.cacheUses.delete(group, from);
      }
    }
  }

  /**
   * Spans each service's senders lost before sending, and 0 for every other service seen: a counter
   * Prometheus has seen at 0 shows its first increase (`increase()` cannot see one from nothing).
   */
  lostSpansByService(): Map<string, number> {
    const lost = this.senderLoss.byService();
    for (const service of this.services()) if (!lost.has(service)) lost.set(service, 0);
    return lost;
  }

  /** Services with at least one row, sorted (the shared overflow row's `(other)` excluded). */
  services(): string[] {
    const seen = new Set<string>();
    for (const table of [this.endpoints, this.queries, this.cache, this.pools]) {
      for (const row of (table as BoundedTable<{ service: string }>).rows()) seen.add(row.service);
    }
    seen.delete(OVERFLOW_LABEL);
    return [...seen].sort();
  }

  /** The span of receive time a window covers at nowMs, clipped to the first record. */
  windowRange(window: WindowName, nowMs: number = this.now()): WindowRange {
    const first = Number.isNaN(this.firstDataMs) ? nowMs : this.firstDataMs;
    return {
      fromMs: Math.min(nowMs, Math.max(first, windowStartMs(window, nowMs, this.bucketMs))),
      toMs: nowMs,
    };
  }

  /** Folds buckets that left the 15-minute ring into the `all` totals (runs by itself once per bucket). */
  prune(nowMs: number = this.now()): void {
    const tables: BoundedTable<{ stats: Windowed<unknown> }>[] = [
      this.queries,
      this.cache,
      this.endpoints,
      this.queryUses,
      this.cacheUses,
      this.pools,
    ] as BoundedTable<{ stats: Windowed<unknown> }>[];
    for (const table of tables) for (const row of table.rows()) row.stats.prune(nowMs);
    this.nextPruneMs = nowMs + this.bucketMs;
  }

  private tick(): number {
    const now = this.recordNow();
    if (now >= this.nextPruneMs) {
      if (Number.isNaN(this.firstDataMs)) {
        this.firstDataMs = now;
        this.nextPruneMs = now + this.bucketMs;
      } else this.prune(now);
    }
    return now;
  }
}

export type { CacheAcc, EndpointAcc, PoolAcc, QueryAcc, UseAcc };

/**
 * `service␟system`, the group key of a service's cache or pool rows of one system, as the same string
 * object for consecutive calls with the same pair: a fresh concatenation per call would be flattened
 * and re-hashed by the Map every time (in sidecar mode the pair never changes).
 */
class PairKey {
  private service = '';
  private system = '';
  private key = '';

  of(service: string, system: string): string {
    if (this.service !== service || this.system !== system) {
      this.service = service;
      this.system = system;
      this.key = service + SEP + system;
    }
    return this.key;
  }
}
