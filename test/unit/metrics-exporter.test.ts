import { afterEach, describe, expect, it } from 'vitest';
import { createSpanstatMetrics, recommendationSeries, type SpanstatMetrics } from '../../src/metrics';
import { INFO_TEXT_HOLD_MS } from '../../src/metrics/held-text';
import type { CacheCall, DbCall } from '../../src/model/classified';
import type { RequestSummary } from '../../src/model/request-summary';
import { poolConnect, poolUsage } from '../fixtures/classified';

const base = { traceId: 't1', spanId: 's1', parentSpanId: '', startMs: 0, error: false };

function db(over: Partial<DbCall> = {}): DbCall {
  return {
    ...base,
    type: 'db',
    service: 'shop',
    system: 'postgresql',
    fingerprint: 'a1b2',
    statement: 'SELECT id FROM orders WHERE reference = $1',
    operation: 'SELECT',
    table: 'orders',
    durationMs: 12,
    ...over,
  };
}

function cache(over: Partial<CacheCall> = {}): CacheCall {
  return {
    ...base,
    type: 'cache',
    service: 'shop',
    system: 'redis',
    command: 'get',
    namespace: 'quote:*',
    read: true,
    write: false,
    hits: 0,
    misses: 0,
    durationMs: 0.4,
    ...over,
  };
}

function request(over: Partial<RequestSummary> = {}): RequestSummary {
  return {
    service: 'shop',
    traceId: 't1',
    method: 'GET',
    route: '/orders/:id',
    status: 200,
    error: false,
    durationMs: 150,
    dbMs: 100,
    cacheMs: 10,
    poolWaitMs: 5,
    queries: 3,
    cacheOps: 1,
    fingerprints: [{ fingerprint: 'a1b2', calls: 3, totalMs: 100 }],
    namespaces: [],
    ...over,
  };
}

/** Sample lines (no comments) of the exposition, for exact comparison. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

let metrics: SpanstatMetrics;
function create(over: Partial<Parameters<typeof createSpanstatMetrics>[0]> = {}): SpanstatMetrics {
  metrics = createSpanstatMetrics({
    maxSeriesPerMetric: 100,
    maxStatementChars: 60,
    nPlusOneMinCalls: 5,
    ...over,
  });
  return metrics;
}

afterEach(async () => {
  await metrics?.shutdown();
});

describe('Prometheus metrics', () => {
  it('exports query durations as a seconds histogram with cumulative buckets per fingerprint', async () => {
    const m = create();
    m.recordDbCall(db({ durationMs: 3 }));
    m.recordDbCall(db({ durationMs: 30 }));
    m.recordDbCall(db({ durationMs: 700, error: true }));
    const text = await m.scrape();
    const labels = 'service="shop",system="postgresql",fingerprint="a1b2",operation="SELECT",table="orders"';
    const lines = samples(text, 'spanstat_db_query_duration_seconds_bucket');
    expect(lines).toContain(`spanstat_db_query_duration_seconds_bucket{${labels},le="0.0025"} 0`);
    expect(lines).toContain(`spanstat_db_query_duration_seconds_bucket{${labels},le="0.005"} 1`);
    expect(lines).toContain(`spanstat_db_query_duration_seconds_bucket{${labels},le="0.05"} 2`);
    expect(lines).toContain(`spanstat_db_query_duration_seconds_bucket{${labels},le="0.5"} 2`);
    expect(lines).toContain(`spanstat_db_query_duration_seconds_bucket{${labels},le="1"} 3`);
    expect(lines).toContain(`spanstat_db_query_duration_seconds_bucket{${labels},le="+Inf"} 3`);
    expect(samples(text, 'spanstat_db_query_duration_seconds_count')).toEqual([
      `spanstat_db_query_duration_seconds_count{${labels}} 3`,
    ]);
    expect(samples(text, 'spanstat_db_query_duration_seconds_sum')).toEqual([
      `spanstat_db_query_duration_seconds_sum{${labels}} 0.733`,
    ]);
    expect(samples(text, 'spanstat_db_query_errors_total')).toEqual([
      `spanstat_db_query_errors_total{${labels}} 1`,
    ]);
    expect(text).toContain('# TYPE spanstat_db_query_duration_seconds histogram');
  });

  it('maps each fingerprint to its first statement, truncated, in the info metric', async () => {
    const m = create({ maxStatementChars: 30 });
    m.recordDbCall(db());
    m.recordDbCall(db({ statement: 'select id from orders where reference = $1' }));
    const text = await m.scrape();
    expect(samples(text, 'spanstat_db_query_info')).toEqual([
      'spanstat_db_query_info{service="shop",fingerprint="a1b2",statement="SELECT id FROM orders WHERE r…"} 1',
    ]);
  });

  it('counts cache keys read by result and writes per namespace', async () => {
    const m = create();
    m.recordCacheCall(cache({ hits: 1 }));
    m.recordCacheCall(cache({ misses: 1 }));
    m.recordCacheCall(cache({ command: 'mget', hits: 2, misses: 3 }));
    m.recordCacheCall(cache({ command: 'exists' }));
    m.recordCacheCall(cache({ command: 'set', read: false, write: true }));
    const text = await m.scrape();
    const ns = 'service="shop",system="redis",namespace="quote:*"';
    expect(samples(text, 'spanstat_cache_reads_total').sort()).toEqual(
      [
        `spanstat_cache_reads_total{${ns},command="exists",result="unknown"} 1`,
        `spanstat_cache_reads_total{${ns},command="get",result="hit"} 1`,
        `spanstat_cache_reads_total{${ns},command="get",result="miss"} 1`,
        `spanstat_cache_reads_total{${ns},command="mget",result="hit"} 2`,
        `spanstat_cache_reads_total{${ns},command="mget",result="miss"} 3`,
      ].sort(),
    );
    expect(samples(text, 'spanstat_cache_writes_total')).toEqual([
      `spanstat_cache_writes_total{${ns},command="set"} 1`,
    ]);
    expect(samples(text, 'spanstat_cache_command_duration_seconds_count')).toHaveLength(4);
  });

  it('counts writes that left their key without an expiry per namespace, whatever the command', async () => {
    const m = create();
    const write = (command: string, ttlSeconds?: number, namespace = 'session:*') =>
      m.recordCacheCall(cache({ namespace, command, read: false, write: true, ttlSeconds }));
    write('set', -1);
    write('mset', -1);
    write('set', 60);
    write('hset');
    write('set', -1, 'token:*');
    const text = await m.scrape();
    expect(samples(text, 'spanstat_cache_writes_without_expiry_total').sort()).toEqual([
      'spanstat_cache_writes_without_expiry_total{service="shop",system="redis",namespace="session:*"} 2',
      'spanstat_cache_writes_without_expiry_total{service="shop",system="redis",namespace="token:*"} 1',
    ]);
  });

  it('counts the keys an MGET read in other namespaces under those namespaces', async () => {
    const m = create();
    m.recordCacheCall(
      cache({
        command: 'mget',
        hits: 1,
        misses: 0,
        otherNamespaceReads: [{ namespace: 'user:*', hits: 2, misses: 1 }],
      }),
    );
    const text = await m.scrape();
    const series = (namespace: string, result: string, n: number) =>
      `spanstat_cache_reads_total{service="shop",system="redis",namespace="${namespace}",command="mget",result="${result}"} ${n}`;
    expect(samples(text, 'spanstat_cache_reads_total').sort()).toEqual(
      [series('quote:*', 'hit', 1), series('user:*', 'hit', 2), series('user:*', 'miss', 1)].sort(),
    );
    // The command's latency stays with the namespace that names it.
    expect(samples(text, 'spanstat_cache_command_duration_seconds_count')).toHaveLength(1);
  });

  it('records job runs under method JOB, a failed run as status_class="error", with the same labels', async () => {
    const m = create();
    const job = { method: 'JOB', route: 'send-digest', status: 0 };
    m.recordRequest(request(job));
    m.recordRequest(request({ ...job, error: true }));
    m.recordRequest(request({ ...job, error: true }));
    const text = await m.scrape();
    const route = 'service="shop",method="JOB",route="send-digest"';
    expect(samples(text, 'spanstat_http_server_request_duration_seconds_count').sort()).toEqual(
      [
        `spanstat_http_server_request_duration_seconds_count{${route},status_class="error"} 2`,
        `spanstat_http_server_request_duration_seconds_count{${route},status_class="unknown"} 1`,
      ].sort(),
    );
  });

  it('records endpoints by status class with the time split and queries per request', async () => {
    const m = create();
    m.recordRequest(request());
    m.recordRequest(request({ status: 503, durationMs: 50, dbMs: 0, cacheMs: 0, poolWaitMs: 0, queries: 0 }));
    m.recordRequest(request({ status: 0 }));
    const text = await m.scrape();
    const route = 'service="shop",method="GET",route="/orders/:id"';
    expect(samples(text, 'spanstat_http_server_request_duration_seconds_count').sort()).toEqual(
      [
        `spanstat_http_server_request_duration_seconds_count{${route},status_class="2xx"} 1`,
        `spanstat_http_server_request_duration_seconds_count{${route},status_class="5xx"} 1`,
        `spanstat_http_server_request_duration_seconds_count{${route},status_class="unknown"} 1`,
      ].sort(),
    );
    const split = samples(text, 'spanstat_http_server_request_component_seconds_total');
    expect(split).toContain(
      `spanstat_http_server_request_component_seconds_total{${route},component="db"} 0.2`,
    );
    expect(split).toContain(
      `spanstat_http_server_request_component_seconds_total{${route},component="cache"} 0.02`,
    );
    expect(split).toContain(
      `spanstat_http_server_request_component_seconds_total{${route},component="pool_wait"} 0.01`,
    );
    // other = 35 + 50 + 35 ms (a float sum: compared numerically)
    const other = split.find((line) => line.includes('component="other"')) ?? '';
    expect(Number(other.split(' ').pop())).toBeCloseTo(0.12, 9);
    expect(samples(text, 'spanstat_http_server_request_db_queries_sum')).toEqual([
      `spanstat_http_server_request_db_queries_sum{${route}} 6`,
    ]);
  });

  it('keeps the endpoints of one route apart by service and method, and beyond the cap in overflow', async () => {
    const m = create({ maxSeriesPerMetric: 3 });
    const calls: [string, string, string][] = [
      ['shop', 'GET', '/orders/:id'],
      ['shop', 'DELETE', '/orders/:id'],
      ['billing', 'GET', '/orders/:id'],
      ['shop', 'GET', '/orders/:id'],
      ['shop', 'GET', '/carts/:id'],
      ['shop', 'GET', '/carts/:id'],
    ];
    for (const [service, method, route] of calls) m.recordRequest(request({ service, method, route }));
    const lines = samples(await m.scrape(), 'spanstat_http_server_request_db_queries_count');
    expect(lines.sort()).toEqual(
      [
        'spanstat_http_server_request_db_queries_count{service="shop",method="GET",route="/orders/:id"} 2',
        'spanstat_http_server_request_db_queries_count{service="shop",method="DELETE",route="/orders/:id"} 1',
        'spanstat_http_server_request_db_queries_count{service="billing",method="GET",route="/orders/:id"} 1',
        'spanstat_http_server_request_db_queries_count{service="shop",method="__overflow__",route="__overflow__"} 2',
      ].sort(),
    );
  });

  it('counts an N+1 occurrence only from the repeat threshold on', async () => {
    const m = create({ nPlusOneMinCalls: 5 });
    m.recordRequest(request({ fingerprints: [{ fingerprint: 'items', calls: 4, totalMs: 10 }] }));
    m.recordRequest(request({ fingerprints: [{ fingerprint: 'items', calls: 5, totalMs: 10 }] }));
    m.recordRequest(request({ fingerprints: [{ fingerprint: 'items', calls: 11, totalMs: 10 }] }));
    expect(samples(await m.scrape(), 'spanstat_db_n_plus_one_total')).toEqual([
      'spanstat_db_n_plus_one_total{service="shop",method="GET",route="/orders/:id",fingerprint="items"} 2',
    ]);
  });

  it('reports pool waits and the peak of clients in use against the pool size', async () => {
    const m = create();
    const connect = (inUse: number) =>
      poolConnect({ service: 'shop', pool: 'db:5432/shop', durationMs: 2, poolInUse: inUse, poolMax: 10 });
    for (const n of [3, 9, 4]) m.recordPoolConnect(connect(n));
    const text = await m.scrape();
    expect(samples(text, 'spanstat_db_pool_clients_in_use')).toEqual([
      'spanstat_db_pool_clients_in_use{service="shop",system="postgresql",pool="db:5432/shop"} 9',
    ]);
    expect(samples(text, 'spanstat_db_pool_clients_max')).toEqual([
      'spanstat_db_pool_clients_max{service="shop",system="postgresql",pool="db:5432/shop"} 10',
    ]);
    expect(samples(text, 'spanstat_db_pool_wait_duration_seconds_count')).toEqual([
      'spanstat_db_pool_wait_duration_seconds_count{service="shop",system="postgresql",pool="db:5432/shop"} 3',
    ]);
  });

  it('shows the in-use peak of a pool whose checkouts never waited, from its usage samples', async () => {
    const m = create();
    const sample = (inUse: number) =>
      poolUsage({ service: 'shop', pool: 'db:5432/shop', poolInUse: inUse, poolMax: 10 });
    for (const n of [4, 8, 5]) m.recordPoolUsage(sample(n));
    const text = await m.scrape();
    expect(samples(text, 'spanstat_db_pool_clients_in_use')).toEqual([
      'spanstat_db_pool_clients_in_use{service="shop",system="postgresql",pool="db:5432/shop"} 8',
    ]);
    expect(samples(text, 'spanstat_db_pool_clients_max')).toEqual([
      'spanstat_db_pool_clients_max{service="shop",system="postgresql",pool="db:5432/shop"} 10',
    ]);
    // No checkout waited: no wait series.
    expect(samples(text, 'spanstat_db_pool_wait_duration_seconds_count')).toEqual([]);
  });

  it('keeps a series per pool of a service, each with its own peak and size', async () => {
    const m = create();
    const pool = (name: string, inUse: number, max: number) => ({
      service: 'shop',
      pool: name,
      durationMs: 2,
      poolInUse: inUse,
      poolMax: max,
    });
    m.recordPoolConnect(poolConnect(pool('db-1:5432/shop', 20, 20)));
    m.recordPoolConnect(poolConnect(pool('db-2:5432/shop', 1, 4)));
    m.recordPoolUsage(poolUsage(pool('db-2:5432/shop', 3, 4)));
    // Spans that name no pool (an older preload): a series whose pool label is empty.
    m.recordPoolConnect(poolConnect(pool('', 5, 10)));
    const text = await m.scrape();
    expect(samples(text, 'spanstat_db_pool_clients_in_use')).toEqual([
      'spanstat_db_pool_clients_in_use{service="shop",system="postgresql",pool="db-1:5432/shop"} 20',
      'spanstat_db_pool_clients_in_use{service="shop",system="postgresql",pool="db-2:5432/shop"} 3',
      'spanstat_db_pool_clients_in_use{service="shop",system="postgresql",pool=""} 5',
    ]);
    expect(samples(text, 'spanstat_db_pool_clients_max')).toEqual([
      'spanstat_db_pool_clients_max{service="shop",system="postgresql",pool="db-1:5432/shop"} 20',
      'spanstat_db_pool_clients_max{service="shop",system="postgresql",pool="db-2:5432/shop"} 4',
      'spanstat_db_pool_clients_max{service="shop",system="postgresql",pool=""} 10',
    ]);
  });

  it('sends pools past the series cap to the service overflow series', async () => {
    const m = create({ maxSeriesPerMetric: 2 });
    for (let i = 0; i < 4; i++)
      m.recordPoolConnect(
        poolConnect({ service: 'shop', pool: `db-${i}:5432/shop`, durationMs: 2, poolInUse: i, poolMax: 10 }),
      );
    expect(samples(await m.scrape(), 'spanstat_db_pool_clients_in_use')).toEqual([
      'spanstat_db_pool_clients_in_use{service="shop",system="postgresql",pool="db-0:5432/shop"} 0',
      'spanstat_db_pool_clients_in_use{service="shop",system="postgresql",pool="db-1:5432/shop"} 1',
      'spanstat_db_pool_clients_in_use{service="shop",system="__overflow__",pool="__overflow__"} 3',
    ]);
  });

  it('shows exactly the active recommendations, and drops resolved ones', async () => {
    const m = create();
    let active = [
      {
        service: 'shop',
        id: 'n1',
        kind: 'n-plus-one',
        severity: 'warning',
        target: 'GET /orders/:id',
        title: 'N+1 in GET /orders/:id: 11 queries per request',
        action: 'Batch the item lookups with = ANY($1)  (40 ms per request).',
      },
    ];
    m.setRecommendations(() => active);
    const text = await m.scrape();
    expect(samples(text, 'spanstat_recommendation_active')).toEqual([
      'spanstat_recommendation_active{service="shop",id="n1",kind="n-plus-one",severity="warning",target="GET /orders/:id"} 1',
    ]);
    expect(samples(text, 'spanstat_recommendation_info')).toEqual([
      'spanstat_recommendation_info{service="shop",id="n1",title="N+1 in GET /orders/:id: 11 queries per request",action="Batch the item lookups with = ANY($1) (40 ms per request)."} 1',
    ]);
    active = [];
    const after = await m.scrape();
    expect(samples(after, 'spanstat_recommendation_active')).toEqual([]);
    expect(samples(after, 'spanstat_recommendation_info')).toEqual([]);
  });

  it("holds a recommendation's info text for 10 minutes, so its changing numbers do not start a series per evaluation", async () => {
    let now = 1_000_000;
    const m = create({ now: () => now });
    const rec = (queries: number) => ({
      service: 'shop',
      id: 'n1',
      kind: 'n-plus-one',
      severity: 'warning',
      target: 'GET /orders/:id',
      title: `N+1 in GET /orders/:id: ${queries} queries per request`,
      action: 'Batch the item lookups.',
    });
    let active = [rec(11)];
    m.setRecommendations(() => active);
    const title = async () =>
      samples(await m.scrape(), 'spanstat_recommendation_info').map(
        (line) => /title="([^"]*)"/.exec(line)?.[1],
      );
    expect(await title()).toEqual(['N+1 in GET /orders/:id: 11 queries per request']);
    active = [rec(12)];
    now += INFO_TEXT_HOLD_MS - 1;
    expect(await title()).toEqual(['N+1 in GET /orders/:id: 11 queries per request']);
    now += 1;
    expect(await title()).toEqual(['N+1 in GET /orders/:id: 12 queries per request']);
    // Resolved and raised again: the new text at once.
    active = [];
    expect(await title()).toEqual([]);
    active = [rec(13)];
    expect(await title()).toEqual(['N+1 in GET /orders/:id: 13 queries per request']);
  });

  it('exports the sidecar health counters the pipeline reports', async () => {
    const m = create({ version: '1.2.3' });
    m.setHealth(() => ({
      spansReceived: 100,
      spansRejected: 7,
      spansDropped: 2,
      decodeErrors: 1,
      queueDepth: 40,
      openTraces: 5,
    }));
    m.setPreloadSpansLost(
      () =>
        new Map([
          ['shop', 12],
          ['billing', 3],
        ]),
    );
    const text = await m.scrape();
    expect(samples(text, 'spanstat_preload_spans_lost_total').sort()).toEqual([
      'spanstat_preload_spans_lost_total{service="billing"} 3',
      'spanstat_preload_spans_lost_total{service="shop"} 12',
    ]);
    expect(samples(text, 'spanstat_sidecar_spans_received_total')).toEqual([
      'spanstat_sidecar_spans_received_total 100',
    ]);
    expect(samples(text, 'spanstat_sidecar_spans_rejected_total')).toEqual([
      'spanstat_sidecar_spans_rejected_total 7',
    ]);
    expect(samples(text, 'spanstat_sidecar_spans_dropped_total')).toEqual([
      'spanstat_sidecar_spans_dropped_total 2',
    ]);
    expect(samples(text, 'spanstat_sidecar_decode_errors_total')).toEqual([
      'spanstat_sidecar_decode_errors_total 1',
    ]);
    expect(samples(text, 'spanstat_sidecar_queue_depth')).toEqual(['spanstat_sidecar_queue_depth 40']);
    expect(samples(text, 'spanstat_sidecar_open_traces')).toEqual(['spanstat_sidecar_open_traces 5']);
    expect(samples(text, 'spanstat_sidecar_memory_bytes')).toHaveLength(4);
    expect(samples(text, 'spanstat_build_info')).toEqual(['spanstat_build_info{version="1.2.3"} 1']);
    expect(text).toContain('# TYPE spanstat_sidecar_spans_received_total counter');
  });

  it("exports the lock sampler's counts once it has sampled, nothing without it", async () => {
    const m = create();
    let activity: { lockWaitSeconds: number; idleInTransactionSeconds: number; samples: number } | null =
      null;
    m.setLockActivity(() => activity);
    const lockSamples = async () => {
      const text = await m.scrape();
      return [
        ...samples(text, 'spanstat_db_lock_wait_seconds_total'),
        ...samples(text, 'spanstat_db_idle_in_transaction_seconds'),
      ];
    };
    expect(await lockSamples()).toEqual([]);
    activity = { lockWaitSeconds: 0, idleInTransactionSeconds: 0, samples: 0 };
    expect(await lockSamples()).toEqual([]);
    activity = { lockWaitSeconds: 3.5, idleInTransactionSeconds: 12.25, samples: 40 };
    expect(await lockSamples()).toEqual([
      'spanstat_db_lock_wait_seconds_total 3.5',
      'spanstat_db_idle_in_transaction_seconds 12.25',
    ]);
  });

  it('exports one version info series per version a service ran lately, two during a rolling deploy', async () => {
    const m = create({ maxSeriesPerMetric: 2 });
    let running = [{ service: 'shop', version: '1.4.1' }];
    m.setServiceVersions(() => running);
    expect(samples(await m.scrape(), 'spanstat_service_version_info')).toEqual([
      'spanstat_service_version_info{service="shop",version="1.4.1"} 1',
    ]);
    running = [...running, { service: 'shop', version: '1.4.2' }, { service: 'billing', version: '7' }];
    expect(samples(await m.scrape(), 'spanstat_service_version_info')).toEqual([
      'spanstat_service_version_info{service="shop",version="1.4.1"} 1',
      'spanstat_service_version_info{service="shop",version="1.4.2"} 1',
    ]);
  });

  it('keeps scraping when a scrape-time source throws', async () => {
    const m = create();
    m.recordDbCall(db());
    m.setRecommendations(() => {
      throw new Error('advisor restarting');
    });
    const text = await m.scrape();
    expect(samples(text, 'spanstat_db_query_duration_seconds_count')).toHaveLength(1);
    expect(samples(text, 'spanstat_recommendation_active')).toEqual([]);
  });

  it('puts label sets beyond the cap into one __overflow__ series per service and counts them', async () => {
    const m = create({ maxSeriesPerMetric: 2 });
    for (const fp of ['f1', 'f2', 'f3', 'f4', 'f3']) m.recordDbCall(db({ fingerprint: fp }));
    const text = await m.scrape();
    const counts = samples(text, 'spanstat_db_query_duration_seconds_count');
    expect(counts).toHaveLength(3);
    expect(counts).toContain(
      'spanstat_db_query_duration_seconds_count{service="shop",system="__overflow__",fingerprint="__overflow__",operation="__overflow__",table="__overflow__"} 3',
    );
    expect(samples(text, 'spanstat_sidecar_metric_overflow_total')).toContain(
      'spanstat_sidecar_metric_overflow_total{metric="spanstat_db_query_duration_seconds"} 3',
    );
    // No statement for the overflow series.
    expect(samples(text, 'spanstat_db_query_info')).toHaveLength(2);
  });

  it('keeps the service on overflow series for the first 64 services, so per-service sums stay whole', async () => {
    const m = create({ maxSeriesPerMetric: 1 });
    m.recordDbCall(db({ service: 'kept', fingerprint: 'f0' }));
    for (let i = 0; i < 70; i++) m.recordDbCall(db({ service: `svc${i}`, fingerprint: `f${i}` }));
    m.recordDbCall(db({ service: 'kept', fingerprint: 'f-new' }));
    const counts = samples(await m.scrape(), 'spanstat_db_query_duration_seconds_count');
    const service = (line: string) => /service="([^"]*)"/.exec(line)?.[1];
    const value = (line: string) => Number(line.split(' ').pop());
    // The kept series, 64 services' own overflow series, and one shared by the 6 after them and by
    // `kept`'s new fingerprint (`kept` overflowed only once 64 services had their own).
    expect(counts).toHaveLength(1 + 64 + 1);
    expect(counts.filter((l) => service(l) === 'svc0').map(value)).toEqual([1]);
    expect(counts.filter((l) => service(l) === 'svc63').map(value)).toEqual([1]);
    expect(counts.filter((l) => service(l) === 'svc64')).toEqual([]);
    expect(counts.filter((l) => service(l) === '__overflow__').map(value)).toEqual([7]);
    expect(counts.map(value).reduce((a, b) => a + b)).toBe(72);
  });

  it('keeps bounded labels on the overflow series so hit rates stay computable', async () => {
    const m = create({ maxSeriesPerMetric: 1 });
    m.recordCacheCall(cache({ namespace: 'a:*', hits: 1 }));
    m.recordCacheCall(cache({ namespace: 'b:*', hits: 2 }));
    m.recordCacheCall(cache({ namespace: 'c:*', misses: 3 }));
    const lines = samples(await m.scrape(), 'spanstat_cache_reads_total');
    const o = 'service="shop",system="__overflow__",namespace="__overflow__",command="__overflow__"';
    expect(lines.sort()).toEqual(
      [
        'spanstat_cache_reads_total{service="shop",system="redis",namespace="a:*",command="get",result="hit"} 1',
        `spanstat_cache_reads_total{${o},result="hit"} 2`,
        `spanstat_cache_reads_total{${o},result="miss"} 3`,
      ].sort(),
    );
  });
});

describe('recommendationSeries', () => {
  const rec = {
    id: 'r1',
    kind: 'n-plus-one',
    severity: 'warning',
    service: 'shop',
    state: 'active',
    action: 'Batch with = ANY($1).',
    target: {
      type: 'fingerprint',
      value: 'a1b2',
      route: 'GET /orders',
      statement: 'SELECT * FROM items WHERE order_id = $1',
    },
  };

  it('keeps active recommendations and names fingerprint targets by route and statement', () => {
    expect(recommendationSeries([rec, { ...rec, id: 'r2', state: 'resolved' }])).toEqual([
      {
        service: 'shop',
        id: 'r1',
        kind: 'n-plus-one',
        severity: 'warning',
        target: 'GET /orders SELECT * FROM items WHERE order_id = $1',
        title: undefined,
        action: 'Batch with = ANY($1).',
        fingerprint: 'a1b2',
        method: 'GET',
        route: '/orders',
      },
    ]);
  });

  it('labels the target parts as the other metrics do, so a rule can tell it covers the same thing', async () => {
    const targets = [
      { type: 'route', value: 'GET /orders/:id' },
      { type: 'namespace', value: 'quote:*' },
      { type: 'pool', value: 'postgresql' },
      { type: 'route', value: '(unmatched)' },
      { type: 'pool', value: 'db-2:5432/shop', system: 'postgresql', pool: 'db-2:5432/shop' },
    ];
    const labels = recommendationSeries(targets.map((target, i) => ({ ...rec, id: `r${i}`, target }))).map(
      ({ fingerprint, method, route, namespace, system, pool }) => ({
        fingerprint,
        method,
        route,
        namespace,
        system,
        ...(pool === undefined ? {} : { pool }),
      }),
    );
    expect(labels).toEqual([
      {
        fingerprint: undefined,
        method: 'GET',
        route: '/orders/:id',
        namespace: undefined,
        system: undefined,
      },
      {
        fingerprint: undefined,
        method: undefined,
        route: undefined,
        namespace: 'quote:*',
        system: undefined,
      },
      {
        fingerprint: undefined,
        method: undefined,
        route: undefined,
        namespace: undefined,
        system: 'postgresql',
      },
      {
        fingerprint: undefined,
        method: undefined,
        route: '(unmatched)',
        namespace: undefined,
        system: undefined,
      },
      {
        fingerprint: undefined,
        method: undefined,
        route: undefined,
        namespace: undefined,
        system: 'postgresql',
        pool: 'db-2:5432/shop',
      },
    ]);
    const m = create();
    m.setRecommendations(() => recommendationSeries([rec]));
    expect(samples(await m.scrape(), 'spanstat_recommendation_active')).toEqual([
      'spanstat_recommendation_active{service="shop",id="r1",kind="n-plus-one",severity="warning",target="GET /orders SELECT * FROM items WHERE order_id = $1",fingerprint="a1b2",method="GET",route="/orders"} 1',
    ]);
  });

  it("labels a named pool's recommendation with its pool, as the pool metrics are labelled", async () => {
    const pool = {
      ...rec,
      kind: 'pool-saturation',
      target: { type: 'pool', value: 'db-2:5432/shop', system: 'postgresql', pool: 'db-2:5432/shop' },
    };
    const m = create();
    m.setRecommendations(() => recommendationSeries([pool]));
    expect(samples(await m.scrape(), 'spanstat_recommendation_active')).toEqual([
      'spanstat_recommendation_active{service="shop",id="r1",kind="pool-saturation",severity="warning",target="db-2:5432/shop",system="postgresql",pool="db-2:5432/shop"} 1',
    ]);
  });

  it('uses the route or namespace itself when the target is one', () => {
    const route = { ...rec, target: { type: 'route', value: 'GET /orders' } };
    const ns = { ...rec, target: { type: 'namespace', value: 'quote:*', route: 'GET /quotes/:code' } };
    expect(recommendationSeries([route, ns]).map((s) => s.target)).toEqual([
      'GET /orders',
      'GET /quotes/:code quote:*',
    ]);
  });
});
